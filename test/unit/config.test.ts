import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';

const failure = (env: Record<string, string>): AppError => {
  try {
    loadConfig(env, '/srv/infield');
  } catch (err) {
    expect(err).to.be.instanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a configuration error');
};

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, '/srv/infield');
    expect(config).to.include({
      nodeEnv: 'development',
      databaseUrl: undefined,
      port: 8000,
      logLevel: 'info',
      agendaBackend: 'postgres',
      smtpUrl: undefined,
      redisUrl: undefined,
      home: path.resolve('/srv/infield/.infield'),
      storageDir: path.resolve('/srv/infield/.infield/files'),
    });
    expect(config.corsOrigins).to.deep.equal([]);
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        DATABASE_URL: 'postgres://u:p@db:5432/infield',
        JWT_SECRET: 'x'.repeat(40),
        SMTP_URL: 'smtp://mail:25',
        STORAGE_DIR: '/data/files',
        CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
        REDIS_URL: 'redis://127.0.0.1:6379',
        AGENDA_BACKEND: 'mongo',
        MONGODB_URL: 'mongodb://127.0.0.1:27017/jobs',
        PORT: '9000',
        LOG_LEVEL: 'debug',
        NODE_ENV: 'production',
      },
      '/srv',
    );
    expect(config).to.include({
      databaseUrl: 'postgres://u:p@db:5432/infield',
      smtpUrl: 'smtp://mail:25',
      storageDir: '/data/files',
      redisUrl: 'redis://127.0.0.1:6379',
      agendaBackend: 'mongo',
      mongodbUrl: 'mongodb://127.0.0.1:27017/jobs',
      port: 9000,
      logLevel: 'debug',
      logLevelExplicit: true,
      nodeEnv: 'production',
    });
    expect(config.corsOrigins).to.deep.equal(['https://app.example.com', 'http://localhost:3000']);
  });

  it('reports every bad value at once, with exit code 7', () => {
    const error = failure({
      DATABASE_URL: 'mysql://x',
      PORT: '70000',
      LOG_LEVEL: 'loud',
      AGENDA_BACKEND: 'mongo',
      CORS_ORIGINS: 'not a url,https://ok.example.com/path',
      SMTP_URL: '::',
      REDIS_URL: 'http://x',
      JWT_SECRET: 'short',
    });
    expect(error.code).to.equal('CONFIG_INVALID');
    expect(error.exitCode).to.equal(7);
    expect(error.errors.map((e) => e.path)).to.have.members([
      'DATABASE_URL',
      'PORT',
      'LOG_LEVEL',
      'MONGODB_URL',
      'CORS_ORIGINS',
      'CORS_ORIGINS',
      'SMTP_URL',
      'REDIS_URL',
      'JWT_SECRET',
    ]);
    expect(error.message).to.match(/^Invalid configuration: /);
    expect(error.message).to.not.contain('\n');
  });

  it('requires JWT_SECRET in production', () => {
    const error = failure({ NODE_ENV: 'production' });
    expect(error.errors).to.deep.equal([
      { path: 'JWT_SECRET', message: 'is required when NODE_ENV=production' },
    ]);
  });

  it('serves no metrics unless METRICS_TOKEN is set, and refuses a short one', () => {
    expect(loadConfig({}, '/srv').metricsToken).to.equal(undefined);
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(16) }, '/srv').metricsToken).to.equal(
      'm'.repeat(16),
    );
    expect(failure({ METRICS_TOKEN: 'short' }).errors).to.deep.equal([
      { path: 'METRICS_TOKEN', message: 'must be at least 16 characters' },
    ]);
  });

  it('takes a Redis key prefix (default "infield") and refuses one that could break key names', () => {
    expect(loadConfig({}, '/srv').redisKeyPrefix).to.equal('infield');
    expect(loadConfig({ REDIS_KEY_PREFIX: 'acme-prod:eu1' }, '/srv').redisKeyPrefix).to.equal(
      'acme-prod:eu1',
    );
    for (const bad of ['with space', '*', ':leading', 'x'.repeat(65)]) {
      expect(
        failure({ REDIS_KEY_PREFIX: bad }).errors.map((e) => e.path),
        bad,
      ).to.deep.equal(['REDIS_KEY_PREFIX']);
    }
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '  ', PORT: '' }, '/srv').port).to.equal(8000);
  });
});
