/**
 * The Lua scripts of the Redis broker. Each runs atomically inside Redis, which is what makes
 * "next offset + dedup check + history append + fan-out" one step on every node at once.
 *
 * Key layout per channel (the `{channel}` hash tag keeps one channel's keys in one cluster slot):
 * - `<prefix>{<channel>}:meta`   hash: `epoch`, `head` (latest offset), `ttl` and `size` (retention)
 * - `<prefix>{<channel>}:hist`   stream: entry id `<offset>-0`, fields `t` (ts) and `p` (frame JSON)
 * - `<prefix>{<channel>}:key:<k>` string: the original frame for idempotency key `k`, with a PX expiry
 * - `<prefix>{<channel>}:pres`   hash: connection id → presence client JSON
 * - `<prefix>{<channel>}:presx`  sorted set: connection id scored by its expiry (ms)
 * - `<prefix>{<channel>}:presl`  sorted set: connection id, every score 0, for pages by id (BYLEX)
 * Pub/sub messages on `<prefix>pub:<channel>` are `m<frame>`, `j<client>` or `l<client>`.
 * Times come from Redis `TIME`, so all nodes share one clock for ts and expiry.
 * @module
 */

const NOW = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

/** Drops stream entries older than `cutoff` ms; the stream is in ts order, so only its head. */
const TRIM_AGE = `
local function trim_age(hist, cutoff)
  -- The common case (nothing expired) costs one single-entry read.
  local head = redis.call('XRANGE', hist, '-', '+', 'COUNT', 1)
  if #head == 0 or tonumber(head[1][2][2]) > cutoff then return end
  while true do
    local batch = redis.call('XRANGE', hist, '-', '+', 'COUNT', 64)
    if #batch == 0 then return end
    for _, entry in ipairs(batch) do
      if tonumber(entry[2][2]) > cutoff then
        redis.call('XTRIM', hist, 'MINID', entry[1])
        return
      end
    end
    if #batch < 64 then
      redis.call('DEL', hist)
      return
    end
    local last = batch[#batch][1]
    redis.call('XTRIM', hist, 'MINID', (tonumber(string.match(last, '^(%d+)')) + 1) .. '-0')
  end
end
`;

/** Removes expired presence entries and announces each removal once (the script is atomic). */
const REAP = `
local function reap(pres, presx, presl, topic, now)
  local gone = redis.call('ZRANGEBYSCORE', presx, '-inf', now)
  for _, id in ipairs(gone) do
    local client = redis.call('HGET', pres, id)
    redis.call('HDEL', pres, id)
    redis.call('ZREM', presx, id)
    redis.call('ZREM', presl, id)
    if client then redis.call('PUBLISH', topic, 'l' .. client) end
  end
end
`;

/**
 * KEYS: meta, hist, dedup key (meta again when there is no key).
 * ARGV: channel (JSON string), data (JSON), from (JSON string or ''), historySize, historyTtl,
 * dedupTtl, has key ('1'/'0'), candidate epoch, pub/sub topic, idle channel ttl.
 * Returns {duplicate (0/1), frame JSON}.
 */
export const PUBLISH = `${NOW}${TRIM_AGE}
if ARGV[7] == '1' then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {1, seen} end
end
local size = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local dedup = tonumber(ARGV[6])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[8])
local head = redis.call('HINCRBY', KEYS[1], 'head', 1)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('HSET', KEYS[1], 'ttl', ttl, 'size', size)
-- The frame is assembled here so that offset, epoch and ts are final, and the data JSON goes
-- out byte for byte as the publisher encoded it (cjson would re-encode numbers and empty tables).
local frame = '{"type":"message","channel":' .. ARGV[1] .. ',"offset":' .. string.format('%d', head)
  .. ',"epoch":' .. cjson.encode(epoch) .. ',"data":' .. ARGV[2]
if ARGV[3] ~= '' then frame = frame .. ',"from":' .. ARGV[3] end
frame = frame .. ',"ts":' .. string.format('%d', now) .. '}'
if size > 0 then
  -- '~' lets Redis trim whole nodes, cheaply; reads cut the surplus by offset (head - size).
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', size, string.format('%d', head) .. '-0', 't', string.format('%d', now), 'p', frame)
  trim_age(KEYS[2], now - ttl)
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
else
  redis.call('DEL', KEYS[2])
end
if ARGV[7] == '1' then redis.call('SET', KEYS[3], frame, 'PX', math.max(dedup, 1)) end
redis.call('PEXPIRE', KEYS[1], math.max(ttl, dedup, tonumber(ARGV[10])))
-- Published from inside the script: fan-out order is offset order on every node.
redis.call('PUBLISH', ARGV[9], 'm' .. frame)
return {0, frame}
`;

/**
 * KEYS: meta, hist. ARGV: candidate epoch, since, limit (-1: none), idle channel ttl.
 * Returns {epoch, head, {frame JSON…}}. Creates the channel's epoch if it has none yet, so the
 * epoch a reader sees is the one the first publication will carry.
 */
export const HISTORY = `${NOW}${TRIM_AGE}
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'head', 'ttl', 'size')
local head = tonumber(meta[2]) or 0
local ttl = tonumber(meta[3]) or 0
local size = tonumber(meta[4]) or 0
local limit = tonumber(ARGV[3])
local out = {}
if limit ~= 0 and head > 0 then
  trim_age(KEYS[2], now - ttl)
  local first = math.max(tonumber(ARGV[2]), head - size) + 1
  local entries
  if limit < 0 then
    entries = redis.call('XRANGE', KEYS[2], string.format('%d', first) .. '-0', '+')
  else
    entries = redis.call('XRANGE', KEYS[2], string.format('%d', first) .. '-0', '+', 'COUNT', limit)
  end
  for i, entry in ipairs(entries) do out[i] = entry[2][4] end
end
return {meta[1], head, out}
`;

/**
 * KEYS: pres, presx, presl. ARGV: connection id, client JSON, ttl, topic.
 * Returns 1 when the entry is new (a join was announced), 0 on a refresh.
 */
export const PRESENCE_ADD = `${NOW}${REAP}
reap(KEYS[1], KEYS[2], KEYS[3], ARGV[4], now)
local ttl = tonumber(ARGV[3])
local fresh = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
-- Also on a refresh: entries written before presl existed join it within one refresh.
redis.call('ZADD', KEYS[3], 0, ARGV[1])
-- The set lives as long as its longest-lived entry: a crashed node's entries vanish with it.
for _, key in ipairs(KEYS) do
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
if fresh == 1 then redis.call('PUBLISH', ARGV[4], 'j' .. ARGV[2]) end
return fresh
`;

/** KEYS: pres, presx, presl. ARGV: connection id, topic. Returns 1 when an entry was removed. */
export const PRESENCE_REMOVE = `${NOW}${REAP}
reap(KEYS[1], KEYS[2], KEYS[3], ARGV[2], now)
local client = redis.call('HGET', KEYS[1], ARGV[1])
if not client then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'l' .. client)
return 1
`;

/**
 * KEYS: pres, presx, presl. ARGV: topic, after ('' for the first page), limit (-1: all).
 * Returns the live entries' client JSON in connection id order (bytes, as ZRANGEBYLEX compares):
 * O(log n + page), read in chunks of 1000 ids so that HMGET's unpack stays within Lua's stack.
 */
export const PRESENCE_LIST = `${NOW}${REAP}
reap(KEYS[1], KEYS[2], KEYS[3], ARGV[1], now)
-- Entries written before presl existed (an upgraded deployment) are indexed once, here.
if redis.call('ZCARD', KEYS[3]) < redis.call('HLEN', KEYS[1]) then
  for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do redis.call('ZADD', KEYS[3], 0, id) end
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > 0 then redis.call('PEXPIRE', KEYS[3], pttl) end
end
local limit = tonumber(ARGV[3])
local min = ARGV[2] == '' and '-' or '(' .. ARGV[2]
local out = {}
while limit < 0 or #out < limit do
  local want = limit < 0 and 1000 or math.min(1000, limit - #out)
  local ids = redis.call('ZRANGEBYLEX', KEYS[3], min, '+', 'LIMIT', 0, want)
  if #ids == 0 then break end
  -- An id without its hash field (never written so by these scripts) is skipped, not returned.
  for _, client in ipairs(redis.call('HMGET', KEYS[1], unpack(ids))) do
    if client then out[#out + 1] = client end
  end
  if #ids < want then break end
  min = '(' .. ids[#ids]
end
return out
`;
