// Vite (and so vitest) loads `*.yaml?raw` imports as the file's text. Tests use it to read the
// committed manifests without node:fs, which packages/domain does not import.
declare module '*.yaml?raw' {
  const text: string;
  export default text;
}
