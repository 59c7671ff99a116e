import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

/** Paths of the certificates and keys of one local cluster (all PEM). */
export interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly controllerManagerCert: string;
  readonly controllerManagerKey: string;
  readonly schedulerCert: string;
  readonly schedulerKey: string;
  /** Serving certificate of the stand-in kubelet's per-node servers (127.0.0.1, localhost). */
  readonly kubeletCert: string;
  readonly kubeletKey: string;
  /** The API server's client certificate towards kubelets (logs, exec). */
  readonly apiserverKubeletClientCert: string;
  readonly apiserverKubeletClientKey: string;
  /** RSA key the API server signs ServiceAccount tokens with (and verifies them with). */
  readonly serviceAccountKey: string;
}

export interface Subject {
  readonly cn: string;
  readonly o?: string;
}

/**
 * Creates a fresh PKI in `dir` with Debian's openssl: a CA, the API server's serving certificate
 * (127.0.0.1 / localhost, the `kubernetes` Service, `hostAddress` when given), client certificates for admin (system:masters), the controller manager,
 * the kube-scheduler and the API server towards kubelets, the stand-in kubelet's serving certificate
 * (127.0.0.1 / localhost), and the ServiceAccount signing key. Made at every start-up, so no key ever lives in the repository.
 * Certificates use P-256 keys (fast to generate); the ServiceAccount key is RSA as the API server
 * expects for RS256 tokens.
 */
export async function createPki(dir: string, opts: { readonly hostAddress?: string } = {}): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const p = (name: string) => join(dir, name);
  const pki: Pki = {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    controllerManagerCert: p('controller-manager.crt'),
    controllerManagerKey: p('controller-manager.key'),
    schedulerCert: p('scheduler.crt'),
    schedulerKey: p('scheduler.key'),
    kubeletCert: p('kubelet.crt'),
    kubeletKey: p('kubelet.key'),
    apiserverKubeletClientCert: p('apiserver-kubelet-client.crt'),
    apiserverKubeletClientKey: p('apiserver-kubelet-client.key'),
    serviceAccountKey: p('sa.key'),
  };

  const saKey = openssl([
    'genpkey',
    '-algorithm',
    'RSA',
    '-pkeyopt',
    'rsa_keygen_bits:2048',
    '-out',
    pki.serviceAccountKey,
  ]);

  const caConfig = p('ca.cnf');
  await writeFile(
    caConfig,
    config({ cn: 'reaper-flow-local-ca' }, [
      'basicConstraints = critical,CA:TRUE',
      'keyUsage = critical,keyCertSign,cRLSign,digitalSignature',
      'subjectKeyIdentifier = hash',
    ]),
  );
  await openssl([
    'req',
    '-x509',
    '-new',
    '-config',
    caConfig,
    '-extensions',
    'ext',
    ...newKey(pki.caKey),
    '-days',
    '3650',
    '-out',
    pki.caCert,
  ]);

  await Promise.all([
    signed(dir, 'apiserver', { cn: 'kube-apiserver' }, pki, [
      'extendedKeyUsage = serverAuth',
      // With real nodes also the machine's address: the `kubernetes` Service's endpoint, which
      // Pods reach through the Service's ClusterIP (10.0.0.1) and clients may dial directly.
      `subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,${opts.hostAddress ? `IP:${opts.hostAddress},` : ''}DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
    ]),
    signed(dir, 'admin', { cn: 'admin', o: 'system:masters' }, pki, ['extendedKeyUsage = clientAuth']),
    signed(dir, 'controller-manager', { cn: 'system:kube-controller-manager' }, pki, [
      'extendedKeyUsage = clientAuth',
    ]),
    signed(dir, 'scheduler', { cn: 'system:kube-scheduler' }, pki, ['extendedKeyUsage = clientAuth']),
    signed(dir, 'kubelet', { cn: 'reaper-flow-stand-in-kubelet' }, pki, [
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
    ]),
    signed(
      dir,
      'apiserver-kubelet-client',
      { cn: 'kube-apiserver-kubelet-client', o: 'system:masters' },
      pki,
      ['extendedKeyUsage = clientAuth'],
    ),
    saKey,
  ]);
  return pki;
}

/**
 * A client certificate `<name>.crt`/`.key` for user `cn` (group `o`), signed by the cluster CA in
 * `pkiDir`: kube-proxy (`system:kube-proxy`, bound by the bootstrap role `system:node-proxier`)
 * and CoreDNS.
 */
export async function createClientCertificate(
  pkiDir: string,
  name: string,
  subject: Subject,
): Promise<{ readonly cert: string; readonly key: string }> {
  const ca = { caCert: join(pkiDir, 'ca.crt'), caKey: join(pkiDir, 'ca.key') };
  await signed(pkiDir, name, subject, ca, ['extendedKeyUsage = clientAuth']);
  return { cert: join(pkiDir, `${name}.crt`), key: join(pkiDir, `${name}.key`) };
}

/** A real node's kubelet certificates, signed by the cluster CA in `pkiDir`. */
export interface NodeCertificates {
  /** Client certificate towards the API server: `system:node:<name>` in `system:nodes` (Node authorizer). */
  readonly clientCert: string;
  readonly clientKey: string;
  /** Serving certificate of its kubelet API for `nodeIp` (the API server checks it against the CA). */
  readonly servingCert: string;
  readonly servingKey: string;
}

/** Issues a real node's client and serving certificates into `pkiDir` with the cluster CA there. */
export async function createNodeCertificates(
  pkiDir: string,
  node: string,
  nodeIp: string,
): Promise<NodeCertificates> {
  const ca = { caCert: join(pkiDir, 'ca.crt'), caKey: join(pkiDir, 'ca.key') };
  const client = `node-${node}-client`;
  const serving = `node-${node}-serving`;
  await Promise.all([
    signed(pkiDir, client, { cn: `system:node:${node}`, o: 'system:nodes' }, ca, [
      'extendedKeyUsage = clientAuth',
    ]),
    signed(pkiDir, serving, { cn: `system:node:${node}` }, ca, [
      'extendedKeyUsage = serverAuth',
      `subjectAltName = IP:${nodeIp},DNS:${node}`,
    ]),
  ]);
  const p = (name: string) => join(pkiDir, name);
  return {
    clientCert: p(`${client}.crt`),
    clientKey: p(`${client}.key`),
    servingCert: p(`${serving}.crt`),
    servingKey: p(`${serving}.key`),
  };
}

async function signed(
  dir: string,
  name: string,
  subject: Subject,
  pki: Pick<Pki, 'caCert' | 'caKey'>,
  ext: string[],
): Promise<void> {
  const cnf = join(dir, `${name}.cnf`);
  const csr = join(dir, `${name}.csr`);
  await writeFile(
    cnf,
    config(subject, [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      ...ext,
    ]),
  );
  await openssl(['req', '-new', '-config', cnf, ...newKey(join(dir, `${name}.key`)), '-out', csr]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-set_serial',
    `0x${randomBytes(12).toString('hex')}`,
    '-days',
    '365',
    '-extfile',
    cnf,
    '-extensions',
    'ext',
    '-out',
    join(dir, `${name}.crt`),
  ]);
}

function newKey(keyPath: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath];
}

function config(subject: Subject, ext: string[]): string {
  const dn = [`CN = ${subject.cn}`, ...(subject.o ? [`O = ${subject.o}`] : [])];
  return ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', ...dn, '[ext]', ...ext, ''].join('\n');
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run(OPENSSL, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
}
