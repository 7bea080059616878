-- Shoal's script sandbox, run once when the VM starts (chunk "=shoal").
-- Arguments: the Rust helpers the sandbox closes over.
local hooks, rust = ...
local pairs, ipairs = pairs, ipairs

local raw_loadstring, raw_rawset, raw_setmetatable = loadstring, rawset, setmetatable
local raw_error, raw_type, raw_tostring, raw_xpcall, raw_pcall = error, type, tostring, xpcall, pcall

-- Tables a script cannot change: the globals and every library table.
local protected = raw_setmetatable({}, { __mode = "k" })

local function readonly()
  raw_error("Attempt to modify a readonly table", 2)
end

-- redis.*: call and pcall are the per-run Rust callbacks, set into this
-- table by each run. A failing redis.call leaves its error table in
-- hooks.pending and raises; the handler and pcall pick the table up.
local redis = {}
for name, f in pairs(rust) do redis[name] = f end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3

-- Redis 7's pcall hands a script the message of a redis.call error, not its table.
local function caught(e)
  if raw_type(e) == "userdata" and hooks.pending ~= nil then
    e = hooks.pending
    hooks.pending = nil
  end
  return e
end

local function shoal_pcall(f, ...)
  local res = { raw_pcall(f, ...) }
  if not res[1] then
    local e = caught(res[2])
    if raw_type(e) == "table" and raw_type(e.err) == "string" then e = e.err end
    res[2] = e
  end
  return unpack(res, 1, table.maxn(res))
end

-- No bytecode: a binary chunk could break out of the VM.
local function text_only(s, name)
  if raw_type(s) == "string" and s:byte(1) == 27 then
    return nil, "binary chunks are not allowed"
  end
  return raw_loadstring(s, name)
end
local function load_text(reader, name)
  if raw_type(reader) == "string" then return text_only(reader, name) end
  local parts = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    if raw_type(piece) ~= "string" then return nil, "reader function must return a string" end
    parts[#parts + 1] = piece
  end
  return text_only(table.concat(parts), name)
end

local function guarded_rawset(t, k, v)
  if protected[t] then raw_error("Attempt to modify a readonly table", 0) end
  return raw_rawset(t, k, v)
end

-- The error handler: every error becomes {err=..., source=..., line=...},
-- located at the innermost frame of the user's script.
local function handler(err)
  err = caught(err)
  if raw_type(err) == "userdata" then
    -- An error raised by a Rust helper: its message, without mlua's framing.
    err = raw_tostring(err):gsub("^runtime error: ", ""):gsub("\n.*", "")
  end
  if raw_type(err) ~= "table" then
    err = { err = "ERR " .. raw_tostring(err) }
  end
  local line = hooks.where()
  if line then
    err.source = "@user_script"
    err.line = line
  end
  return err
end

local function run(f)
  return raw_xpcall(f, handler)
end

-- Build the globals a script sees, then lock them.
local G = _G
local base = {}
for k, v in pairs(G) do base[k] = v end
for k in pairs(base) do raw_rawset(G, k, nil) end
base.debug, base.print, base.dofile, base.loadfile, base.module, base.require = nil, nil, nil, nil, nil, nil
base.package, base.os, base.io = nil, nil, nil
base.pcall = shoal_pcall
base.loadstring = text_only
base.load = load_text
base.rawset = guarded_rawset
base.redis = redis
base.math.random, base.math.randomseed = hooks.random, hooks.randomseed

local function lock(name)
  local real = base[name]
  if raw_type(real) ~= "table" then return end
  local proxy = {}
  raw_setmetatable(proxy, { __index = real, __newindex = readonly, __metatable = false })
  protected[proxy] = true
  base[name] = proxy
end
for _, name in ipairs({ "string", "math", "table", "coroutine", "redis", "cjson", "bit", "struct", "cmsgpack" }) do
  lock(name)
end

raw_setmetatable(base, {
  __index = function(_, k)
    raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(k) .. "'", 2)
  end,
  __metatable = false,
})
base._G = G
raw_setmetatable(G, { __index = base, __newindex = readonly, __metatable = false })
protected[G] = true

return run, base, redis
