import { describe, expect, it } from 'vitest';
import { normalizedMode, parseLdd } from './runtime-files';

describe('parseLdd', () => {
  it('lists the libraries and the interpreter, not the vDSO', () => {
    const output = [
      '\tlinux-vdso.so.1 (0x00007ffd4a1f0000)',
      '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f1c2a400000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c2a13e000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c2a66b000)',
      '',
    ].join('\n');
    expect(parseLdd(output)).toEqual([
      '/lib/x86_64-linux-gnu/libstdc++.so.6',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });

  it('refuses a library ldd cannot find: the image would not start', () => {
    expect(() => parseLdd('\tlibfoo.so.1 => not found\n')).toThrow(/libfoo\.so\.1 => not found/);
  });

  it('refuses a line it does not understand rather than leaving a library out', () => {
    expect(() => parseLdd('\tsomething else\n')).toThrow(/unexpected line/);
  });
});

describe('normalizedMode', () => {
  it('keeps only whether a file is executable (no setuid, no group or other write)', () => {
    expect(normalizedMode(0o104755)).toBe(0o755);
    expect(normalizedMode(0o100775)).toBe(0o755);
    expect(normalizedMode(0o100664)).toBe(0o644);
    expect(normalizedMode(0o100600)).toBe(0o644);
  });
});
