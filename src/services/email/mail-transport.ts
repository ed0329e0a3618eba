import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../../config.js';

export interface OutgoingMessage {
  id: string;
  to: string[];
  subject: string;
  text: string;
  html: string | null;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'files';
  send(message: OutgoingMessage): Promise<{ messageId: string }>;
  /** Throws when the relay cannot be reached (SMTP) or the folder written (files). */
  verify(): Promise<void>;
  close(): void;
}

export const FROM_ADDRESS = 'Infield <no-reply@infield.local>';

const mailOptions = (message: OutgoingMessage) => ({
  from: FROM_ADDRESS,
  to: message.to,
  subject: message.subject,
  text: message.text,
  ...(message.html === null ? {} : { html: message.html }),
  headers: { 'X-Infield-Outbox-Id': message.id },
});

/** SMTP when SMTP_URL is set; otherwise `.eml` files under INFIELD_HOME/outbox/. */
export function createMailTransport(config: Pick<Config, 'smtpUrl' | 'home'>): MailTransport {
  if (config.smtpUrl !== undefined) {
    const url = new URL(config.smtpUrl);
    const transport = nodemailer.createTransport({
      // Reused connections: one handshake per connection, not per message.
      pool: true,
      maxConnections: 4,
      maxMessages: 500,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 25)),
      secure: url.protocol === 'smtps:',
      ...(url.username === ''
        ? {}
        : {
            auth: {
              user: decodeURIComponent(url.username),
              pass: decodeURIComponent(url.password),
            },
          }),
      // A local relay without TLS is normal in development; STARTTLS is used when offered.
      ignoreTLS: url.searchParams.get('starttls') === 'false',
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return {
      kind: 'smtp',
      async send(message) {
        const info = await transport.sendMail(mailOptions(message));
        return { messageId: info.messageId };
      },
      verify: async () => {
        await transport.verify();
      },
      close: () => transport.close(),
    };
  }
  const dir = path.join(config.home, 'outbox');
  const stream = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
  });
  return {
    kind: 'files',
    async send(message) {
      const info = await stream.sendMail(mailOptions(message));
      await fs.mkdir(dir, { recursive: true });
      // Named by outbox id: a rerun overwrites rather than duplicates.
      await fs.writeFile(path.join(dir, `${message.id}.eml`), info.message as Buffer);
      return { messageId: info.messageId };
    },
    verify: async () => {
      await fs.mkdir(dir, { recursive: true });
    },
    close: () => undefined,
  };
}
