import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.infield/', 'coverage/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'knex', message: 'Only src/db/ and migrations/ may import knex.' }],
        },
      ],
      // One taxonomy: codes, statuses and exit codes are chosen once, by the factories.
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='AppError']",
          message: 'Build errors with a factory from src/errors.ts (add one there if none fits).',
        },
      ],
    },
  },
  {
    files: ['src/errors.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: [
      'src/db/**/*.ts',
      'migrations/**/*.ts',
      'src/models/**/*.ts',
      'test/**/*.ts',
      'bench/**/*.ts',
    ],
    rules: { 'no-restricted-imports': 'off' },
  },
);
