/**
 * The Lua scripts of the Redis engine (redis-engine.ts). Each runs atomically in Redis, which is
 * what makes a registration, a fan-out to every live inbox, or a take-over one step that no other
 * node sees half done. Every script takes the key prefix as ARGV[1] and builds its keys from it:
 * `alive:<name>` (the incarnation, with the lease as its expiry), the `members` hash
 * (`<name>:<incarnation>` → join time), `dead:<name>:<incarnation>` (a tombstone),
 * `sessions:<name>:<incarnation>` (full JID → record) and `inbox:<name>:<incarnation>` (a stream
 * read by the consumer group `readers`). Keys are computed inside the scripts, so the engine
 * wants one Redis server (or a primary with replicas), not Redis Cluster.
 */

/** Shared helpers, prepended to the scripts that use them. */
const HELPERS = `
local prefix = ARGV[1]
local function alive_key(name) return prefix .. ':alive:' .. name end
local function inbox_key(name, inc) return prefix .. ':inbox:' .. name .. ':' .. inc end
local function sessions_key(name, inc) return prefix .. ':sessions:' .. name .. ':' .. inc end
local members_key = prefix .. ':members'
local function split(member)
  local at = string.find(member, ':', 1, true)
  return string.sub(member, 1, at - 1), string.sub(member, at + 1)
end
local function live_members()
  local live = {}
  for _, member in ipairs(redis.call('HKEYS', members_key)) do
    local name, inc = split(member)
    if redis.call('GET', alive_key(name)) == inc then table.insert(live, {name, inc}) end
  end
  return live
end
local function fan_out(name, inc, entry)
  for _, member in ipairs(live_members()) do
    if member[1] ~= name then
      redis.call('XADD', inbox_key(member[1], member[2]), '*', 'from', name .. ':' .. inc, 'entry', entry)
    end
  end
end
local function ensure_group(name, inc)
  local ok = pcall(redis.call, 'XGROUP', 'CREATE', inbox_key(name, inc), 'readers', '0', 'MKSTREAM')
  return ok
end
`;

/** ARGV: prefix, name, incarnation, lease ms, now → 1 joined, 0 the name is held by a live incarnation */
export const JOIN = `${HELPERS}
local name, inc = ARGV[2], ARGV[3]
if redis.call('EXISTS', alive_key(name)) == 1 then return 0 end
redis.call('SET', alive_key(name), inc, 'PX', ARGV[4])
redis.call('HSET', members_key, name .. ':' .. inc, ARGV[5])
redis.call('DEL', inbox_key(name, inc))
ensure_group(name, inc)
return 1
`;

/**
 * ARGV: prefix, name, incarnation, lease ms, now[, status JSON] → renewed | restored | fenced. A registration
 * that lapsed while still listed as a member is fenced: a survivor may be taking it over. One
 * missing altogether, with no tombstone, is a Redis that lost its data: written again.
 */
export const RENEW = `${HELPERS}
local name, inc = ARGV[2], ARGV[3]
local current = redis.call('GET', alive_key(name))
local function publish()
  if ARGV[6] then redis.call('SET', prefix .. ':status:' .. name .. ':' .. inc, ARGV[6], 'PX', 4 * tonumber(ARGV[4])) end
end
if current == inc then
  redis.call('PEXPIRE', alive_key(name), ARGV[4])
  publish()
  return 'renewed'
end
if current then return 'fenced' end
if redis.call('EXISTS', prefix .. ':dead:' .. name .. ':' .. inc) == 1 then return 'fenced' end
if redis.call('HEXISTS', members_key, name .. ':' .. inc) == 1 then return 'fenced' end
redis.call('SET', alive_key(name), inc, 'PX', ARGV[4])
redis.call('HSET', members_key, name .. ':' .. inc, ARGV[5])
ensure_group(name, inc)
publish()
return 'restored'
`;

/** ARGV: prefix → flat list name, incarnation, live (1/0), joined at, status JSON ('' when none) per member */
export const MEMBERS = `${HELPERS}
local result = {}
local flat = redis.call('HGETALL', members_key)
for i = 1, #flat, 2 do
  local name, inc = split(flat[i])
  table.insert(result, name)
  table.insert(result, inc)
  table.insert(result, redis.call('GET', alive_key(name)) == inc and 1 or 0)
  table.insert(result, flat[i + 1])
  table.insert(result, redis.call('GET', prefix .. ':status:' .. name .. ':' .. inc) or '')
end
return result
`;

/** ARGV: prefix, name, incarnation: the registration lapses at once; a survivor takes over what is left */
export const LEAVE = `${HELPERS}
local name, inc = ARGV[2], ARGV[3]
if redis.call('GET', alive_key(name)) == inc then redis.call('DEL', alive_key(name)) end
return 1
`;

/** ARGV: prefix → flat list name, incarnation, ... of the members whose registration lapsed */
export const LAPSED = `${HELPERS}
local result = {}
for _, member in ipairs(redis.call('HKEYS', members_key)) do
  local name, inc = split(member)
  if redis.call('GET', alive_key(name)) ~= inc then
    table.insert(result, name)
    table.insert(result, inc)
  end
end
return result
`;

/** ARGV: prefix, lease name, holder, ms → 1 held, 0 another holder has it */
export const ACQUIRE_LEASE = `
local key = ARGV[1] .. ':lease:' .. ARGV[2]
local holder = redis.call('GET', key)
if holder and holder ~= ARGV[3] then return 0 end
redis.call('SET', key, ARGV[3], 'PX', ARGV[4])
return 1
`;

/** ARGV: prefix, lease name, holder */
export const RELEASE_LEASE = `
local key = ARGV[1] .. ':lease:' .. ARGV[2]
if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
return 1
`;

/**
 * ARGV: prefix, lease name, holder (`<node>:<incarnation>`), ms → the holder after the attempt.
 * A lease whose holder's registration lapsed is free at once: a node that is not live by its own
 * clock stopped acting on its leases before its registration expired (membership.ts).
 */
export const CLAIM_LEASE = `${HELPERS}
local key = prefix .. ':lease:' .. ARGV[2]
local holder = redis.call('GET', key)
if holder and holder ~= ARGV[3] then
  local name, inc = split(holder)
  if redis.call('GET', alive_key(name)) == inc then return holder end
end
redis.call('SET', key, ARGV[3], 'PX', ARGV[4])
return ARGV[3]
`;

/**
 * ARGV: prefix, holder, ms, lease names... → the names no longer held by `holder` (another took
 * them). One that lapsed without another holder (a Redis that lost its data) is taken again.
 */
export const RENEW_LEASES = `
local lost = {}
for i = 4, #ARGV do
  local key = ARGV[1] .. ':lease:' .. ARGV[i]
  local holder = redis.call('GET', key)
  if holder == ARGV[2] then
    redis.call('PEXPIRE', key, ARGV[3])
  elseif not holder then
    redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
`;

/**
 * ARGV: prefix, name, incarnation, full JID, record (JSON, or '' to remove), entry (JSON) → 1, or
 * 0 when this incarnation is not live (fenced: nothing is written).
 */
export const PUT_SESSION = `${HELPERS}
local name, inc = ARGV[2], ARGV[3]
if redis.call('GET', alive_key(name)) ~= inc then return 0 end
if ARGV[5] == '' then
  redis.call('HDEL', sessions_key(name, inc), ARGV[4])
else
  redis.call('HSET', sessions_key(name, inc), ARGV[4], ARGV[5])
end
fan_out(name, inc, ARGV[6])
return 1
`;

/**
 * ARGV: prefix, name, incarnation, to name, to incarnation, full JID, record (JSON, naming the
 * taker), session entry (JSON), hand-over entry (JSON) → sent | gone | fenced. The record moves
 * from the giver's sessions to the taker's, every other live node hears of it as from the taker
 * (the giver knows, the taker learns it from the hand-over), and the taker's inbox gets the
 * hand-over, all at once or not at all.
 */
export const HAND_OVER = `${HELPERS}
local name, inc, to, to_inc = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('GET', alive_key(name)) ~= inc then return 'fenced' end
if redis.call('GET', alive_key(to)) ~= to_inc then return 'gone' end
redis.call('HDEL', sessions_key(name, inc), ARGV[6])
redis.call('HSET', sessions_key(to, to_inc), ARGV[6], ARGV[7])
for _, member in ipairs(live_members()) do
  if member[1] ~= name and member[1] ~= to then
    redis.call('XADD', inbox_key(member[1], member[2]), '*', 'from', to .. ':' .. to_inc, 'entry', ARGV[8])
  end
end
redis.call('XADD', inbox_key(to, to_inc), '*', 'from', name .. ':' .. inc, 'entry', ARGV[9])
return 'sent'
`;

/** ARGV: prefix → every live node's session records (JSON) */
export const SESSIONS = `${HELPERS}
local result = {}
for _, member in ipairs(live_members()) do
  for _, record in ipairs(redis.call('HVALS', sessions_key(member[1], member[2]))) do table.insert(result, record) end
end
return result
`;

/** ARGV: prefix, sender name, sender incarnation, node, incarnation, entry (JSON), max entries → sent | gone | full */
export const SEND = `${HELPERS}
local name, inc = ARGV[4], ARGV[5]
if redis.call('GET', alive_key(name)) ~= inc then return 'gone' end
local inbox = inbox_key(name, inc)
if redis.call('XLEN', inbox) >= tonumber(ARGV[7]) then return 'full' end
redis.call('XADD', inbox, '*', 'from', ARGV[2] .. ':' .. ARGV[3], 'entry', ARGV[6])
return 'sent'
`;

/** ARGV: prefix, name, incarnation, ids... : acknowledged entries leave the stream */
export const ACKNOWLEDGE = `${HELPERS}
local inbox = inbox_key(ARGV[2], ARGV[3])
local ids = {}
for i = 4, #ARGV do table.insert(ids, ARGV[i]) end
redis.call('XACK', inbox, 'readers', unpack(ids))
redis.call('XDEL', inbox, unpack(ids))
return #ids
`;

/** ARGV: prefix, name, incarnation: the consumer group, made again when Redis lost it */
export const ENSURE_GROUP = `${HELPERS}
return ensure_group(ARGV[2], ARGV[3]) and 1 or 0
`;

/**
 * ARGV: prefix, survivor name, survivor incarnation, dead name, dead incarnation, tombstone ms,
 * node-gone entry (JSON) → false, or { session records, inbox entries as XRANGE gives them }.
 */
export const TAKE_OVER = `${HELPERS}
local dead, dead_inc = ARGV[4], ARGV[5]
local member = dead .. ':' .. dead_inc
if redis.call('HEXISTS', members_key, member) == 0 then return false end
if redis.call('GET', alive_key(dead)) == dead_inc then return false end
redis.call('SET', prefix .. ':dead:' .. member, '1', 'PX', ARGV[6])
redis.call('HDEL', members_key, member)
local sessions = redis.call('HVALS', sessions_key(dead, dead_inc))
local entries = redis.call('XRANGE', inbox_key(dead, dead_inc), '-', '+')
redis.call('DEL', sessions_key(dead, dead_inc), inbox_key(dead, dead_inc))
fan_out(ARGV[2], ARGV[3], ARGV[7])
return { sessions, entries }
`;
