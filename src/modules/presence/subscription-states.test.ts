import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STATE_NAMES, stateName, stateOf, transition, type Direction, type StateName, type SubscriptionStanzaType } from './subscription-states.ts';

/** [existing state, forwarded?, new state or '-' for no change, note] as RFC 6121 Appendix A lists them. */
type Expected = [StateName, 'yes' | 'no', StateName | '-', ('pre-approve' | 'auto-reply')?];

const APPENDIX_A: Record<Direction, Record<SubscriptionStanzaType, Expected[]>> = {
  outbound: {
    subscribe: [
      ['None', 'yes', 'None + Pending Out'],
      ['None + Pending Out', 'yes', '-'],
      ['None + Pending In', 'yes', 'None + Pending Out/In'],
      ['None + Pending Out/In', 'yes', '-'],
      ['To', 'yes', '-'],
      ['To + Pending In', 'yes', '-'],
      ['From', 'yes', 'From + Pending Out'],
      ['From + Pending Out', 'yes', '-'],
      ['Both', 'yes', '-'],
    ],
    unsubscribe: [
      ['None', 'yes', '-'],
      ['None + Pending Out', 'yes', 'None'],
      ['None + Pending In', 'yes', '-'],
      ['None + Pending Out/In', 'yes', 'None + Pending In'],
      ['To', 'yes', 'None'],
      ['To + Pending In', 'yes', 'None + Pending In'],
      ['From', 'yes', '-'],
      ['From + Pending Out', 'yes', 'From'],
      ['Both', 'yes', 'From'],
    ],
    subscribed: [
      ['None', 'no', '-', 'pre-approve'],
      ['None + Pending Out', 'no', '-', 'pre-approve'],
      ['None + Pending In', 'yes', 'From'],
      ['None + Pending Out/In', 'yes', 'From + Pending Out'],
      ['To', 'no', '-', 'pre-approve'],
      ['To + Pending In', 'yes', 'Both'],
      ['From', 'no', '-'],
      ['From + Pending Out', 'no', '-'],
      ['Both', 'no', '-'],
    ],
    unsubscribed: [
      ['None', 'no', '-'],
      ['None + Pending Out', 'no', '-'],
      ['None + Pending In', 'yes', 'None'],
      ['None + Pending Out/In', 'yes', 'None + Pending Out'],
      ['To', 'no', '-'],
      ['To + Pending In', 'yes', 'To'],
      ['From', 'yes', 'None'],
      ['From + Pending Out', 'yes', 'None + Pending Out'],
      ['Both', 'yes', 'To'],
    ],
  },
  inbound: {
    subscribe: [
      ['None', 'yes', 'None + Pending In'],
      ['None + Pending Out', 'yes', 'None + Pending Out/In'],
      ['None + Pending In', 'no', '-'],
      ['None + Pending Out/In', 'no', '-'],
      ['To', 'yes', 'To + Pending In'],
      ['To + Pending In', 'no', '-'],
      ['From', 'no', '-', 'auto-reply'],
      ['From + Pending Out', 'no', '-', 'auto-reply'],
      ['Both', 'no', '-', 'auto-reply'],
    ],
    unsubscribe: [
      ['None', 'no', '-'],
      ['None + Pending Out', 'no', '-'],
      ['None + Pending In', 'yes', 'None'],
      ['None + Pending Out/In', 'yes', 'None + Pending Out'],
      ['To', 'no', '-'],
      ['To + Pending In', 'yes', 'To'],
      ['From', 'yes', 'None'],
      ['From + Pending Out', 'yes', 'None + Pending Out'],
      ['Both', 'yes', 'To'],
    ],
    subscribed: [
      ['None', 'no', '-'],
      ['None + Pending Out', 'yes', 'To'],
      ['None + Pending In', 'no', '-'],
      ['None + Pending Out/In', 'yes', 'To + Pending In'],
      ['To', 'no', '-'],
      ['To + Pending In', 'no', '-'],
      ['From', 'no', '-'],
      ['From + Pending Out', 'yes', 'Both'],
      ['Both', 'no', '-'],
    ],
    unsubscribed: [
      ['None', 'no', '-'],
      ['None + Pending Out', 'yes', 'None'],
      ['None + Pending In', 'no', '-'],
      ['None + Pending Out/In', 'yes', 'None + Pending In'],
      ['To', 'yes', 'None'],
      ['To + Pending In', 'yes', 'None + Pending In'],
      ['From', 'no', '-'],
      ['From + Pending Out', 'yes', 'From'],
      ['Both', 'yes', 'From'],
    ],
  },
};

describe('subscription state machine (RFC 6121 Appendix A)', () => {
  for (const direction of ['outbound', 'inbound'] as const) {
    for (const [type, rows] of Object.entries(APPENDIX_A[direction]) as [SubscriptionStanzaType, Expected[]][]) {
      test(`${direction} ${type}: every existing state has its row`, () => {
        assert.deepEqual(rows.map(([state]) => state), STATE_NAMES);
      });
      for (const [state, forward, next, note] of rows) {
        test(`${direction} ${type} in "${state}": ${forward === 'yes' ? 'forwarded' : 'kept'}, ${next === '-' ? 'no state change' : `"${next}"`}${note ? `, ${note}` : ''}`, () => {
          const result = transition(direction, type, stateOf(state));
          assert.equal(result.forward, forward === 'yes');
          assert.equal(stateName(result.state), next === '-' ? state : next);
          assert.equal(result.preApprove, note === 'pre-approve');
          assert.equal(result.autoReply, note === 'auto-reply');
        });
      }
    }
  }

  test('state names round-trip', () => {
    for (const name of STATE_NAMES) assert.equal(stateName(stateOf(name)), name);
  });

  test('a pending request in an already subscribed direction is not a state of its own', () => {
    assert.equal(stateName({ subscription: 'to', pendingOut: true, pendingIn: false }), 'To');
    assert.equal(stateName({ subscription: 'from', pendingOut: false, pendingIn: true }), 'From');
    assert.equal(stateName({ subscription: 'both', pendingOut: true, pendingIn: true }), 'Both');
  });

  test('a pre-approved request becomes a subscription: inbound subscribe then the recorded approval (section 3.4)', () => {
    for (const [from, expected] of [
      ['None', 'From'],
      ['None + Pending Out', 'From + Pending Out'],
      ['To', 'Both'],
    ] as const) {
      const requested = transition('inbound', 'subscribe', stateOf(from));
      const approved = transition('outbound', 'subscribed', requested.state);
      assert.equal(approved.forward, true);
      assert.equal(stateName(approved.state), expected);
    }
  });

  test('transitions return fresh state objects', () => {
    const state = stateOf('None');
    const result = transition('outbound', 'unsubscribe', state);
    result.state.pendingOut = true;
    assert.equal(stateName(stateOf('None')), 'None');
    assert.equal(state.pendingOut, false);
  });
});
