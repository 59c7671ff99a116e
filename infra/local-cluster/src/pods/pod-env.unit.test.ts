import { describe, expect, it } from 'vitest';
import { containerArgv, expand } from './pod-env';

describe('expand', () => {
  const env = { NAME: 'world', EMPTY: '' };

  it('replaces a defined $(VAR) reference', () => {
    expect(expand('hello $(NAME)!', env)).toBe('hello world!');
  });

  it('keeps a reference to an undefined variable as written', () => {
    expect(expand('$(MISSING) and $(NAME)', env)).toBe('$(MISSING) and world');
  });

  it('reduces $$ to $, so $$(VAR) stays a literal reference', () => {
    expect(expand('$$(NAME) costs $$5', env)).toBe('$(NAME) costs $5');
  });

  it('replaces a reference to an empty variable with nothing', () => {
    expect(expand('[$(EMPTY)]', env)).toBe('[]');
  });
});

describe('containerArgv', () => {
  it('is command then args, each expanded', () => {
    const argv = containerArgv(
      { name: 'c', image: 'none', command: ['sh', '-c'], args: ['echo $(NAME) $HOME'] },
      { NAME: 'x' },
    );
    expect(argv).toEqual(['sh', '-c', 'echo x $HOME']);
  });
});
