// The two timestamp forms of the Kubernetes API. JavaScript clocks give milliseconds, so a
// MicroTime's last three digits are always zero. Pure: the caller passes the time in.

/** RFC 3339 with second precision (`2006-01-02T15:04:05Z`), as metav1.Time serializes. */
export function formatTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with six fractional digits (`2006-01-02T15:04:05.000000Z`), as metav1.MicroTime wants. */
export function formatMicroTime(at: Date | number): string {
  return new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
