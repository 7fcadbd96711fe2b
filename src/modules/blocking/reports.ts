/**
 * Spam and abuse reporting (XEP-0377): a block command may carry, per item, a <report/> with a
 * reason and a text. The server counts each report, logs it (once per reporter per
 * `limits.log_interval`), and tells the host's administrators (`admins`) in a message from the
 * host, as Prosody's report forwarding does, so that a person sees it. A reporter gets at most
 * `MAX_FORWARDED_PER_HOUR` reports forwarded an hour; the rest are counted and logged only.
 */
import type { Jid } from '../../jid/jid.ts';
import { SlidingWindowLimit } from '../../util/sliding-window.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import type { ModuleContext } from '../context.ts';

export const NS_REPORTING = 'urn:xmpp:reporting:1';
/**
 * Version 0 of XEP-0377, still sent by slixmpp 1.8 and older Conversations: the reason is a
 * <spam/> or <abuse/> child, and the report may sit on the <block/> itself, for every item.
 */
export const NS_REPORTING_0 = 'urn:xmpp:reporting:0';
export const REPORTING_0_FEATURES = [NS_REPORTING_0, 'urn:xmpp:reporting:reason:spam:0', 'urn:xmpp:reporting:reason:abuse:0'];
const REASONS: Record<string, string> = { 'urn:xmpp:reporting:spam': 'spam', 'urn:xmpp:reporting:abuse': 'abuse' };
/** characters of a reporter's text kept */
const MAX_TEXT = 1000;
const MAX_FORWARDED_PER_HOUR = 20;
const HOUR_MS = 3_600_000;

export interface Report {
  /** the blocked address the report is about */
  reported: Jid;
  /** spam, abuse, or the reason URI as written when it is another */
  reason: string;
  text?: string;
}

/** The reports of a block command's items: each <item/> with a <report/> (section 4) that names a reason. */
export function reportsOf(payload: Element, items: readonly Jid[], nsBlocking: string): Report[] {
  const reports: Report[] = [];
  const forEvery = payload.getChild('report', NS_REPORTING_0);
  payload.getChildren('item', nsBlocking).forEach((item, index) => {
    const report = item.getChild('report', NS_REPORTING) ?? item.getChild('report', NS_REPORTING_0) ?? forEvery;
    const reason = report && reasonOf(report);
    // Section 4: a report without a reason is no report.
    if (!report || !reason) return;
    const text = report.getChildText('text', report.xmlns)?.trim().slice(0, MAX_TEXT);
    reports.push({ reported: items[index]!, reason, ...(text ? { text } : {}) });
  });
  return reports;
}

/** spam, abuse, another reason's URI as written, or undefined when the report names none. */
function reasonOf(report: Element): string | undefined {
  if (report.xmlns === NS_REPORTING_0) return report.getChild('spam', NS_REPORTING_0) ? 'spam' : report.getChild('abuse', NS_REPORTING_0) ? 'abuse' : undefined;
  const reason = report.attrs.reason;
  return reason ? (REASONS[reason] ?? reason.slice(0, 200)) : undefined;
}

/** Counts, logs and forwards the reports `reporter` made; returns nothing to wait for. */
export function reportHandler({ host, router, logger }: ModuleContext): (reporter: Jid, reports: readonly Report[]) => void {
  const forwarded = new SlidingWindowLimit(MAX_FORWARDED_PER_HOUR, HOUR_MS);
  return (reporter, reports) => {
    const from = reporter.bare().toString();
    for (const report of reports) {
      router.traffic.abuseReports.add(report.reason === 'spam' || report.reason === 'abuse' ? report.reason : 'other');
      router.refusals.warn(`abuse-report ${from}`, 'abuse report', { reporter: from, reported: report.reported.toString(), reason: report.reason, text: report.text }, logger);
      if (!forwarded.allows(from)) continue;
      forwarded.record(from);
      const body = `${from} reported ${report.reported} for ${report.reason}${report.text ? `: ${report.text}` : ''}`;
      for (const admin of host.config.admins) {
        const message = el('message', NS_CLIENT, { from: host.domain, to: admin, type: 'normal' }, el('subject', NS_CLIENT, {}, `Abuse report about ${report.reported}`), el('body', NS_CLIENT, {}, body));
        void router.route(message, { kind: 'local' });
      }
    }
  };
}
