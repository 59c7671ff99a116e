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
