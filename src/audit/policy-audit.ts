/**
 * The audit trail and alerts of peering rules (docs/peering.md, "Audit and alerts"). The router
 * reports each decision of a rule on a stanza that crossed; refusals and actions are appended to
 * storage in batches, and each refusal (a violation) raises an alert: a warning in the log (the
 * router's), a counter by rule for /metrics, an entry in the recent alerts of the admin API, and,
 * when configured, a POST to a webhook. Everything held is bounded: records waiting to be
 * written, recent alerts, webhook calls waiting to be sent; what does not fit is counted.
 */
import type { S2sPeeringAuditConfig } from '../config/types.ts';
import type { MetricFamily } from '../limits/limits.ts';
import type { PolicyAuditRecord, PolicyAuditStore } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import { WebhookSender } from './webhook.ts';

/**
 * Records held until they are written, those waiting for the next write and those handed to a
 * store that has not finished (a slow database would otherwise gather a batch per interval);
 * past this a record is not kept, and counted.
 */
const MAX_HELD = 10_000;
/**
 * Records written as soon as this many wait, without waiting for `write_interval`. A relay that
 * records an action for every stanza would otherwise hold a second of them: they outlived the
 * young generation's collections, and the old generation's collections that followed held its
 * stanzas for up to 20 ms (docs/performance.md, "Latency per hop").
 */
const WRITE_BATCH = 100;
/** Alerts the admin API lists, the newest last. */
const RECENT_ALERTS = 100;
const DAY_MS = 86_400_000;

export interface PolicyAlert extends PolicyAuditRecord {
  /** increasing from 1 since the server started */
  sequence: number;
}

export class PolicyAuditTrail {
  readonly #store: PolicyAuditStore;
  readonly #settings: S2sPeeringAuditConfig;
  readonly #logger: Logger;
  readonly #webhook: WebhookSender | undefined;
  #pending: PolicyAuditRecord[] = [];
  /** records handed to the store and not yet written */
  #writingCount = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  readonly #violations = new Map<string, number>();
  readonly #recent: PolicyAlert[] = [];
  #sequence = 0;
  #notKept = 0;
  #lastPrune = 0;

  constructor(store: PolicyAuditStore, settings: S2sPeeringAuditConfig, logger: Logger) {
    this.#store = store;
    this.#settings = settings;
    this.#logger = logger;
    this.#webhook = settings.webhook === undefined ? undefined : new WebhookSender(settings.webhook, settings.webhook_timeout * 1000, logger);
  }

  /** A decision of a rule: a refusal raises an alert; a refusal or an action is recorded when the settings say so. */
  decided(record: PolicyAuditRecord): void {
    if (record.verdict === 'refuse') this.#alert(record);
    if (!this.#settings.enabled || (record.verdict !== 'refuse' && !this.#settings.record_actions)) return;
    if (this.#pending.length + this.#writingCount >= MAX_HELD) {
      this.#notKept++;
      return;
    }
    this.#pending.push(record);
    if (this.#pending.length >= WRITE_BATCH) return void this.flush();
    this.#flushTimer ??= setTimeout(() => void this.flush(), this.#settings.write_interval * 1000);
  }

  /** Alerts since the start, the newest last, at most the last 100; `after` leaves out those up to that sequence number. */
  alerts(after = 0): PolicyAlert[] {
    return this.#recent.filter((alert) => alert.sequence > after);
  }

  /** Writes what is pending, then removes what is past the retention bounds (at most once a minute). */
  flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    this.#writingCount += batch.length;
    this.#writing = this.#writing.then(async () => {
      try {
        if (batch.length > 0) await this.#store.append(batch);
        const now = Date.now();
        if (now - this.#lastPrune >= 60_000) {
          this.#lastPrune = now;
          await this.#store.prune({ before: now - this.#settings.retention_days * DAY_MS, keep: this.#settings.max_records });
        }
      } catch (error) {
        this.#notKept += batch.length;
        this.#logger.error('policy audit records could not be written', { records: batch.length, error: (error as Error).message });
      } finally {
        this.#writingCount -= batch.length;
      }
    });
    return this.#writing;
  }

  metrics(): MetricFamily[] {
    return [
      {
        type: 'counter',
        name: 'trellis_policy_violations_total',
        help: 'Stanzas refused by a check of a peering rule, by the key path of the rule (docs/peering.md).',
        samples: [...this.#violations].map(([rule, value]) => ({ labels: { rule }, value })),
      },
      { type: 'counter', name: 'trellis_policy_audit_not_kept_total', help: 'Audit records not written: more were waiting than the server holds, or storage failed.', samples: [{ value: this.#notKept }] },
      { type: 'counter', name: 'trellis_policy_webhook_failures_total', help: 'Alerts the webhook did not take: it failed, timed out, or too many were waiting.', samples: [{ value: this.#webhook?.failures ?? 0 }] },
    ];
  }

  /** Writes what is pending and waits for webhook calls under way. */
  async close(): Promise<void> {
    await this.flush();
    await this.#webhook?.close();
  }

  #alert(record: PolicyAuditRecord): void {
    // The rules are the configuration's key paths, so the counter's labels are bounded by it.
    this.#violations.set(record.rule, (this.#violations.get(record.rule) ?? 0) + 1);
    const alert = { ...record, sequence: ++this.#sequence };
    this.#recent.push(alert);
    if (this.#recent.length > RECENT_ALERTS) this.#recent.shift();
    this.#webhook?.send(alert);
  }
}
