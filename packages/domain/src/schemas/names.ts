import { z } from 'zod';

/** RFC 1123 label: what Kubernetes accepts for names that become hostnames, paths or label values. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_LABEL_MAX_LENGTH = 63;

/** RFC 1123 subdomain: what Kubernetes accepts for most object names (ConfigMap, Secret, Node). */
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

const dnsLabelRegex = new RegExp(DNS_LABEL_PATTERN);
const dnsSubdomainRegex = new RegExp(DNS_SUBDOMAIN_PATTERN);

const DNS_LABEL_RULE =
  "must be a DNS-1123 label: at most 63 lowercase alphanumerics or '-', starting and ending with an alphanumeric";
const DNS_SUBDOMAIN_RULE =
  "must be a DNS-1123 subdomain: at most 253 lowercase alphanumerics, '-' or '.', starting and ending with an alphanumeric";

/** True when `s` is a valid DNS-1123 label (at most 63 characters). */
export function isDnsLabel(s: string): boolean {
  return s.length <= DNS_LABEL_MAX_LENGTH && dnsLabelRegex.test(s);
}

/** True when `s` is a valid DNS-1123 subdomain (at most 253 characters). */
export function isDnsSubdomain(s: string): boolean {
  return s.length <= DNS_SUBDOMAIN_MAX_LENGTH && dnsSubdomainRegex.test(s);
}

/** A string field holding a DNS-1123 label; the caller adds the description. */
export function dnsLabel() {
  return z.string().max(DNS_LABEL_MAX_LENGTH, DNS_LABEL_RULE).regex(dnsLabelRegex, DNS_LABEL_RULE);
}

/** A string field holding a DNS-1123 subdomain; the caller adds the description. */
export function dnsSubdomain() {
  return z
    .string()
    .max(DNS_SUBDOMAIN_MAX_LENGTH, DNS_SUBDOMAIN_RULE)
    .regex(dnsSubdomainRegex, DNS_SUBDOMAIN_RULE);
}

/**
 * A label key (what `nodeSelector` names): an optional DNS-1123 subdomain prefix and '/', then a
 * name of at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
 * Written with `[.]` rather than `\.`, so the same text is a valid CEL string and a JS regex.
 */
export const LABEL_KEY_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
export const LABEL_KEY_MAX_LENGTH = 317;
export const LABEL_KEY_RULE =
  "must be label keys: an optional DNS subdomain prefix and '/', then at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";

/** A label value: empty, or at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
export const LABEL_VALUE_RULE =
  "must be a label value: empty or at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";

const labelKeyRegex = new RegExp(LABEL_KEY_PATTERN);

/** True when `s` is a valid label key. */
export function isLabelKey(s: string): boolean {
  return s.length <= LABEL_KEY_MAX_LENGTH && labelKeyRegex.test(s);
}

/** A string field holding a label value; the caller adds the description. */
export function labelValueString() {
  return z.string().max(63, LABEL_VALUE_RULE).regex(new RegExp(LABEL_VALUE_PATTERN), LABEL_VALUE_RULE);
}
