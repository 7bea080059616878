-- The redis.* helpers whose argument checks and error texts follow Redis 7.0;
-- the work is done by the Rust functions in `hooks`. Returns math.random,
-- math.randomseed and the table of redis.* helpers.
local hooks = ...
local raw_error, raw_type, select, tonumber, floor, ceil = error, type, select, tonumber, math.floor, math.ceil

-- Raises a Redis error table. Every helper is called through a Rust
-- trampoline (so the calling script frame survives a tail call, as with
-- Redis' C functions); the table travels in hooks.pending.
local function fail(msg)
  local e = { err = "ERR " .. msg }
  hooks.pending = e
  raw_error(e, 0)
end

-- An error table from a reply text "-CODE message" (the leading '-' optional).
local function error_table(text)
  if text:sub(1, 1) == "-" then text = text:sub(2) end
  local space = text:find(" ", 1, true)
  local code, msg
  if space then
    code, msg = text:sub(1, space - 1), text:sub(space + 1)
  else
    code, msg = "ERR", text
  end
  msg = msg:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return { err = code .. " " .. msg }
end

local api = {}

api.sha1hex = function(...)
  if select("#", ...) ~= 1 then fail("wrong number of arguments") end
  local s = ...
  if raw_type(s) ~= "string" and raw_type(s) ~= "number" then s = "" end
  return hooks.sha1hex(tostring(s))
end

api.error_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or raw_type(s) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  return error_table(s)
end

api.status_reply = function(...)
  local s = ...
  if select("#", ...) ~= 1 or raw_type(s) ~= "string" then
    return { err = "ERR wrong number or type of arguments" }
  end
  return { ok = s }
end

api.log = function(...)
  local n = select("#", ...)
  if n < 2 then fail("redis.log() requires two arguments or more.") end
  local level = tonumber((...))
  if level == nil then fail("First argument must be a number (log level).") end
  level = level >= 0 and floor(level) or ceil(level)
  if level < 0 or level > 3 then fail("Invalid debug level.") end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    if raw_type(v) == "string" or raw_type(v) == "number" then parts[#parts + 1] = tostring(v) end
  end
  hooks.log(level, table.concat(parts, " "))
end

api.setresp = function(...)
  if select("#", ...) ~= 1 then fail("redis.setresp() requires one argument.") end
  local v = tonumber((...)) or 0
  v = v >= 0 and floor(v) or ceil(v)
  if v ~= 2 and v ~= 3 then fail("RESP version must be 2 or 3.") end
  hooks.setresp(v)
end

-- Accepted for compatibility; Shoal always replicates a script's effects
-- (replicas never run scripts), so the flags change nothing.
api.set_repl = function(...)
  if select("#", ...) ~= 1 then fail("redis.set_repl() requires two arguments.") end
  local v = tonumber((...)) or 0
  v = v >= 0 and floor(v) or ceil(v)
  if v < 0 or v > 3 then fail("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.") end
end

api.REDIS_VERSION = hooks.version
api.REDIS_VERSION_NUM = hooks.version_num

-- A luaL_argerror-style message, positioned at the calling script line.
local function argerror(msg)
  local line = hooks.where()
  raw_error((line and ("user_script:" .. line .. ": ") or "") .. msg, 0)
end

local function checkint(v, i)
  local x = tonumber(v)
  if x == nil then
    local got = v == nil and "no value" or raw_type(v)
    argerror("bad argument #" .. i .. " to 'random' (number expected, got " .. got .. ")")
  end
  return x >= 0 and floor(x) or ceil(x)
end

local function random(...)
  local n = select("#", ...)
  local r = hooks.rand48()
  if n == 0 then return r end
  if n == 1 then
    local u = checkint((...), 1)
    if u < 1 then argerror("bad argument #1 to 'random' (interval is empty)") end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l, u = checkint(l, 1), checkint(u, 2)
    if l > u then argerror("bad argument #2 to 'random' (interval is empty)") end
    return floor(r * (u - l + 1)) + l
  end
  raw_error("wrong number of arguments", 0)
end

local function randomseed(...)
  local s = checkint((...), 1)
  hooks.seed(s)
end

return random, randomseed, api
