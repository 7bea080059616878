"""Lua scripting against redis-server 7: each scenario runs the same EVAL,
EVALSHA, EVAL_RO and SCRIPT commands against both, in RESP2 and RESP3, and the
exact reply bytes must match (error texts include the script's SHA1, which is
the same on both). Then redis-py's own users of scripts: Lock and
register_script."""

import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import FORWARD_OFFSET, LocalCluster, RawClient, encode

SET_GET = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])"

# Each scenario: commands as argument lists, run in order on a flushed server.
SCENARIOS = {
    "lua_to_resp": [
        ["EVAL", "return 1", "0"],
        ["EVAL", "return -7.9", "0"],
        ["EVAL", "return 3.99", "0"],
        ["EVAL", "return 'hello'", "0"],
        ["EVAL", "return ''", "0"],
        ["EVAL", "return true", "0"],
        ["EVAL", "return false", "0"],
        ["EVAL", "return nil", "0"],
        ["EVAL", "return", "0"],
        ["EVAL", "return {1, 'two', {3, {4}}, 5}", "0"],
        ["EVAL", "return {1, 2, nil, 4}", "0"],
        ["EVAL", "return {}", "0"],
        ["EVAL", "return {true, false, 1.5}", "0"],
        ["EVAL", "return {ok='FINE'}", "0"],
        ["EVAL", "return {ok='two\\r\\nlines'}", "0"],
        ["EVAL", "return {err='MYERR something bad'}", "0"],
        ["EVAL", "return {err='plain'}", "0"],
        ["EVAL", "return {{err='nested'}, 1}", "0"],
        ["EVAL", "return {x=1, y=2}", "0"],
        ["EVAL", "return redis.status_reply('PONG')", "0"],
        ["EVAL", "return redis.error_reply('CODE message here')", "0"],
        ["EVAL", "return redis.error_reply('nocode')", "0"],
        ["EVAL", "return redis.error_reply('-DASHED x')", "0"],
        ["EVAL", "return redis.error_reply(1)", "0"],
        ["EVAL", "return redis.status_reply()", "0"],
        ["EVAL", "return 9007199254740993", "0"],
        ["EVAL", "return -0.5", "0"],
        ["EVAL", "return KEYS", "2", "k1", "k2", "a1"],
        ["EVAL", "return ARGV", "2", "k1", "k2", "a1", "a2"],
        ["EVAL", "return {#KEYS, #ARGV}", "0"],
        ["EVAL", "return print", "0"],
        ["EVAL", "return function() end", "0"],
        ["EVAL", "return coroutine.create(function() end)", "0"],
    ],
    "resp_to_lua": [
        ["SET", "s", "v"], ["RPUSH", "l", "a", "b", "c"], ["HSET", "h", "f", "v"],
        ["SADD", "set", "m"], ["ZADD", "z", "1.5", "m"],
        ["EVAL", "return redis.call('GET', KEYS[1])", "1", "s"],
        ["EVAL", "return redis.call('GET', KEYS[1])", "1", "missing"],
        ["EVAL", "return type(redis.call('GET', KEYS[1]))", "1", "missing"],
        ["EVAL", "return tostring(redis.call('GET', KEYS[1]))", "1", "missing"],
        ["EVAL", "return redis.call('LRANGE', KEYS[1], 0, -1)", "1", "l"],
        ["EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"],
        ["EVAL", "return type(redis.call('INCR', KEYS[1]))", "1", "n"],
        ["EVAL", "local r = redis.call('SET', KEYS[1], 'x'); return {type(r), r.ok}", "1", "s"],
        ["EVAL", "return redis.call('SET', KEYS[1], 'x')", "1", "s"],
        ["EVAL", "return redis.call('HGETALL', KEYS[1])", "1", "h"],
        ["EVAL", "return redis.call('ZSCORE', KEYS[1], 'm')", "1", "z"],
        ["EVAL", "return redis.call('SMEMBERS', KEYS[1])", "1", "set"],
        ["EVAL", "return redis.call('EXISTS', KEYS[1], KEYS[2])", "2", "s", "l"],
        ["EVAL", "return redis.call('MGET', KEYS[1], KEYS[2])", "2", "s", "missing"],
        ["EVAL", "local t = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3]); return #t",
         "3", "missing", "s", "missing"],
        ["EVAL", "return redis.call('SET', KEYS[1], 1.5)", "1", "f"],
        ["EVAL", "return redis.call('GET', KEYS[1])", "1", "f"],
        ["EVAL", "redis.call('SET', KEYS[1], 0.1); return redis.call('GET', KEYS[1])", "1", "f"],
        ["EVAL", "redis.call('SET', KEYS[1], 100); return redis.call('GET', KEYS[1])", "1", "f"],
        ["EVAL", "redis.call('SET', KEYS[1], -1e20); return redis.call('GET', KEYS[1])", "1", "f"],
        ["EVAL", "return redis.call('set', KEYS[1], {})", "1", "f"],
        ["EVAL", "return redis.call('set', KEYS[1], nil)", "1", "f"],
        ["EVAL", "return redis.call('set', KEYS[1], true)", "1", "f"],
        ["EVAL", "return redis.call()", "0"],
        ["EVAL", "return redis.pcall()", "0"],
    ],
    "resp3_conversions": [
        ["SET", "s", "v"], ["HSET", "h", "f", "v", "g", "w"], ["SADD", "set", "m"],
        ["ZADD", "z", "2.5", "m"], ["RPUSH", "l", "a"],
        ["EVAL", "redis.setresp(3); return redis.call('HGETALL', KEYS[1])", "1", "h"],
        ["EVAL", "redis.setresp(3); local r = redis.call('HGETALL', KEYS[1]); return r.map.f", "1", "h"],
        ["EVAL", "redis.setresp(3); return redis.call('SMEMBERS', KEYS[1])", "1", "set"],
        ["EVAL", "redis.setresp(3); local r = redis.call('SMEMBERS', KEYS[1]); return tostring(r.set.m)",
         "1", "set"],
        ["EVAL", "redis.setresp(3); return redis.call('ZSCORE', KEYS[1], 'm')", "1", "z"],
        ["EVAL", "redis.setresp(3); local r = redis.call('ZSCORE', KEYS[1], 'm'); return r.double * 2",
         "1", "z"],
        ["EVAL", "redis.setresp(3); return redis.call('GET', KEYS[1])", "1", "missing"],
        ["EVAL", "redis.setresp(3); return type(redis.call('GET', KEYS[1]))", "1", "missing"],
        ["EVAL", "redis.setresp(3); return redis.call('LRANGE', KEYS[1], 0, -1)", "1", "l"],
        ["EVAL", "redis.setresp(3); return true", "0"],
        ["EVAL", "redis.setresp(3); return false", "0"],
        ["EVAL", "redis.setresp(3); return {true, false}", "0"],
        ["EVAL", "return {double=3.5}", "0"],
        ["EVAL", "return {double=1/0}", "0"],
        ["EVAL", "return {double=-1/0}", "0"],
        ["EVAL", "return {big_number='123456789012345678901234567890'}", "0"],
        ["EVAL", "return {verbatim_string={format='txt', string='hello'}}", "0"],
        ["EVAL", "return {verbatim_string={format='markdown', string='x'}}", "0"],
        ["EVAL", "return {map={a=1}}", "0"],
        ["EVAL", "return {set={a=true}}", "0"],
        ["EVAL", "return redis.setresp(4)", "0"],
        ["EVAL", "return redis.setresp()", "0"],
        ["EVAL", "redis.setresp(2); return redis.call('HGETALL', KEYS[1])", "1", "h"],
    ],
    "errors": [
        ["SET", "s", "v"],
        ["EVAL", "return redis.call('INCR', KEYS[1])", "1", "s"],
        ["EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "s"],
        ["EVAL", "local r = redis.pcall('INCR', KEYS[1]); return r.err", "1", "s"],
        ["EVAL", "return redis.call('LPUSH', KEYS[1], 'x')", "1", "s"],
        ["EVAL", "return redis.call('nosuchcommand')", "0"],
        ["EVAL", "return redis.call('GET')", "0"],
        ["EVAL", "return redis.call('GET', 'a', 'b')", "0"],
        ["EVAL", "return redis.call('MULTI')", "0"],
        ["EVAL", "return redis.call('EVAL', 'return 1', 0)", "0"],
        ["EVAL", "return redis.call('SCRIPT', 'LOAD', 'return 1')", "0"],
        ["EVAL", "return redis.call('WATCH', 'x')", "0"],
        ["EVAL", "return redis.call('CLIENT', 'ID')", "0"],
        ["EVAL", "return redis.call('OBJECT', 'NOSUCH')", "0"],
        ["EVAL", "return pcall(redis.call, 'INCR', KEYS[1])", "1", "s"],
        ["EVAL", "local ok, e = pcall(redis.call, 'INCR', KEYS[1]); return e", "1", "s"],
        ["EVAL", "local ok, e = pcall(error, 'plain'); return e", "0"],
        ["EVAL", "local ok, e = pcall(error, {err='T x'}); return e", "0"],
        ["EVAL", "error('boom')", "0"],
        ["EVAL", "\n\nerror('on line three')", "0"],
        ["EVAL", "error({err='CUSTOM table error'})", "0"],
        ["EVAL", "error()", "0"],
        ["EVAL", "local t = nil; return t.x", "0"],
        ["EVAL", "return 1 + {}", "0"],
        ["EVAL", "return string.rep()", "0"],
        ["EVAL", "return 'unterminated", "0"],
        ["EVAL", "return end", "0"],
        ["EVAL", "return 1", "x"],
        ["EVAL", "return 1", "1.5"],
        ["EVAL", "return 1", "-1"],
        ["EVAL", "return 1", "2", "onlyone"],
        ["EVAL", "return 1"],
        ["EVAL"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        ["EVALSHA", "short", "0"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "x"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "5"],
        ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "-1"],
    ],
    "globals_and_sandbox": [
        ["EVAL", "return undefined_thing", "0"],
        ["EVAL", "x = 1", "0"],
        ["EVAL", "_G.x = 1", "0"],
        ["EVAL", "rawset(_G, 'x', 1)", "0"],
        ["EVAL", "string.foo = 1", "0"],
        ["EVAL", "math.pi = 3", "0"],
        ["EVAL", "redis.call = nil", "0"],
        ["EVAL", "table.insert = print", "0"],
        ["EVAL", "return os", "0"],
        ["EVAL", "return io", "0"],
        ["EVAL", "return debug", "0"],
        ["EVAL", "return require", "0"],
        ["EVAL", "return dofile", "0"],
        ["EVAL", "return loadfile", "0"],
        ["EVAL", "return type(loadstring)", "0"],
        ["EVAL", "return loadstring('return 7')()", "0"],
        ["EVAL", "return loadstring(string.dump(function() return 1 end))", "0"],
        ["EVAL", "local f = loadstring('return 1 +'); return tostring(f)", "0"],
        ["EVAL", "local t = {} ; t.x = 5 ; return t.x", "0"],
        ["EVAL", "local x = 10; return x", "0"],
        ["EVAL", "return type(_G)", "0"],
        ["EVAL", "return {type(string), type(math), type(table), type(cjson), type(bit)}", "0"],
        ["EVAL", "return _VERSION", "0"],
        ["EVAL", "return string.format('%d-%s', 5, 'x')", "0"],
        ["EVAL", "return table.concat({'a', 'b'}, ',')", "0"],
        ["EVAL", "return {math.floor(2.5), math.max(1, 9), math.huge > 0 and 1 or 0}", "0"],
        ["EVAL", "return tostring(unpack({1, 2}))", "0"],
        ["EVAL", "return select('#', 1, 2, 3)", "0"],
        ["EVAL", "return tonumber('0x10')", "0"],
        ["EVAL", "return redis.REDIS_VERSION_NUM > 0 and 1 or 0", "0"],
        ["EVAL", "return redis.replicate_commands()", "0"],
        ["EVAL", "return redis.breakpoint()", "0"],
        ["EVAL", "return redis.debug('x')", "0"],
        ["EVAL", "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}", "0"],
        ["EVAL", "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"],
        ["EVAL", "redis.set_repl(redis.REPL_ALL); return 1", "0"],
        ["EVAL", "redis.set_repl(99); return 1", "0"],
        ["EVAL", "redis.set_repl(); return 1", "0"],
        ["EVAL", "redis.log(redis.LOG_WARNING, 'from a script'); return 1", "0"],
        ["EVAL", "redis.log(1); return 1", "0"],
        ["EVAL", "redis.log('x', 'y'); return 1", "0"],
        ["EVAL", "redis.log(9, 'y'); return 1", "0"],
        ["EVAL", "return redis.sha1hex('')", "0"],
        ["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
        ["EVAL", "return redis.sha1hex()", "0"],
        ["EVAL", "return redis.sha1hex(12)", "0"],
        ["EVAL", "return tostring(pcall(function() error('x') end))", "0"],
    ],
    "libraries": [
        ["EVAL", "return cjson.encode({1, 2, 3})", "0"],
        ["EVAL", "return cjson.encode({a='b'})", "0"],
        ["EVAL", "return cjson.encode({})", "0"],
        ["EVAL", "return cjson.encode('a/b\"c\\n')", "0"],
        ["EVAL", "return cjson.encode({1.5, -3, 1e20, 0.1})", "0"],
        ["EVAL", "return cjson.encode({true, false, cjson.null})", "0"],
        ["EVAL", "return cjson.encode({{1, {2}}, {}})", "0"],
        ["EVAL", "return cjson.decode('[1,2,3]')", "0"],
        ["EVAL", "return cjson.decode('{\"a\":{\"b\":[5,6]}}').a.b[2]", "0"],
        ["EVAL", "return cjson.decode('\"str\"')", "0"],
        ["EVAL", "return cjson.decode('null') == cjson.null and 1 or 0", "0"],
        ["EVAL", "return cjson.decode('[1,null,3]')[3]", "0"],
        ["EVAL", "return cjson.decode('{\"k\":true}').k", "0"],
        ["EVAL", "return cjson.encode(cjson.decode('{\"x\":[1,2]}'))", "0"],
        ["EVAL", "return bit.band(0xff, 0x0f)", "0"],
        ["EVAL", "return bit.bor(1, 2, 4)", "0"],
        ["EVAL", "return bit.bxor(5, 3)", "0"],
        ["EVAL", "return bit.bnot(0)", "0"],
        ["EVAL", "return bit.lshift(1, 31)", "0"],
        ["EVAL", "return bit.rshift(-1, 28)", "0"],
        ["EVAL", "return bit.arshift(-256, 4)", "0"],
        ["EVAL", "return bit.rol(0x12345678, 8)", "0"],
        ["EVAL", "return bit.ror(0x12345678, 8)", "0"],
        ["EVAL", "return bit.bswap(0x12345678)", "0"],
        ["EVAL", "return bit.tohex(255)", "0"],
        ["EVAL", "return bit.tohex(255, -4)", "0"],
        ["EVAL", "return bit.tohex(-1, 2)", "0"],
        ["EVAL", "return bit.tobit(4294967296 + 5)", "0"],
        ["EVAL", "math.randomseed(42); return {math.random(1000), math.random(1000), math.random(5, 6)}", "0"],
        ["EVAL", "math.randomseed(7); return tostring(math.random())", "0"],
        ["EVAL", "math.randomseed(1); return math.random(0)", "0"],
        ["EVAL", "math.randomseed(1); return math.random(3, 1)", "0"],
        ["EVAL", "return cmsgpack.pack({1, 2, 3})", "0"],
        ["EVAL", "return cmsgpack.pack({a=1})", "0"],
        ["EVAL", "return cmsgpack.pack('hello', true, false)", "0"],
        ["EVAL", "return cmsgpack.pack(1.5, 0.1, -1, -33, -200, -40000, -3000000000, 200, 70000, 2^40)", "0"],
        ["EVAL", "return cmsgpack.pack({}, {{}}, string.rep('x', 40), string.rep('y', 300))", "0"],
        ["EVAL", "return cmsgpack.pack({1, 2, nil, 4})", "0"],
        ["EVAL", "return cmsgpack.unpack(cmsgpack.pack({1, {2, 'x'}, {k='v'}}))", "0"],
        ["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', {3}))}", "0"],
        ["EVAL", "return cmsgpack.unpack(cmsgpack.pack({k='v'})).k", "0"],
        ["EVAL", "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))", "0"],
        ["EVAL", "return {cmsgpack.unpack_one(cmsgpack.pack(7, 8))}", "0"],
        ["EVAL", "return {cmsgpack.unpack_limit(cmsgpack.pack(7, 8, 9), 2)}", "0"],
        ["EVAL", "return struct.pack('>I2', 258)", "0"],
        ["EVAL", "return struct.pack('<i4 h b B', -2, 513, -1, 255)", "0"],
        ["EVAL", "return struct.pack('>l', -5)", "0"],
        ["EVAL", "return struct.pack('!4 b i4', 1, 2)", "0"],
        ["EVAL", "return struct.pack('c3 s', 'abcdef', 'z')", "0"],
        ["EVAL", "return struct.pack('c0', 'whole')", "0"],
        ["EVAL", "return struct.pack('>d f', 1.5, 0.25)", "0"],
        ["EVAL", "return {struct.unpack('>I2 i2', struct.pack('>I2 i2', 65535, -2))}", "0"],
        ["EVAL", "return {struct.unpack('<i4', struct.pack('<i4', -123456))}", "0"],
        ["EVAL", "return {struct.unpack('s b', 'abc\\0' .. string.char(5))}", "0"],
        ["EVAL", "return {struct.unpack('b c0', string.char(3) .. 'xyzw')}", "0"],
        ["EVAL", "return {struct.unpack('>h', 'xx' .. struct.pack('>h', 7), 3)}", "0"],
        ["EVAL", "return tostring(struct.unpack('>d', struct.pack('>d', 0.1)))", "0"],
        ["EVAL", "return {struct.size('i4 h'), struct.size('!8 b d'), struct.size('>I3 c5 x')}", "0"],
        ["EVAL", "return string.len(string.rep('ab', 3))", "0"],
        ["EVAL", "return {string.byte('A'), string.char(66), string.upper('x'), ('abc'):sub(2)}", "0"],
        ["EVAL", "return string.gsub('hello world', 'o', '0')", "0"],
        ["EVAL", "local t = {3, 1, 2}; table.sort(t); return t", "0"],
    ],
    "script_cache": [
        ["SCRIPT", "FLUSH"],
        ["SCRIPT", "LOAD", "return 'loaded'"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
        ["EVALSHA_RO", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
        ["SCRIPT", "EXISTS", "B534286061D4B9E4026607613B95C06C06015AE8"],
        ["SCRIPT", "LOAD", "return 'loaded'"],
        ["SCRIPT", "LOAD", "return +"],
        ["SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2"],
        ["SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 2"],
        ["SCRIPT", "LOAD", "#!python\nreturn 2"],
        ["SCRIPT", "LOAD", "#!lua"],
        ["SCRIPT", "LOAD", "#!lua bad=1\nreturn 1"],
        ["SCRIPT", "LOAD"],
        ["SCRIPT", "LOAD", "a", "b"],
        ["EVAL", "return 'via eval'", "0"],
        ["SCRIPT", "EXISTS", "7b4dd9d867deb864cee5b15d67ea3fd724623b45"],
        ["EVALSHA", "7b4dd9d867deb864cee5b15d67ea3fd724623b45", "0"],
        ["SCRIPT", "FLUSH"],
        ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8"],
        ["SCRIPT", "FLUSH", "ASYNC"],
        ["SCRIPT", "FLUSH", "SYNC"],
        ["SCRIPT", "FLUSH", "NOW"],
        ["SCRIPT", "FLUSH", "SYNC", "ASYNC"],
        ["SCRIPT", "KILL"],
        ["SCRIPT", "KILL", "x"],
        ["SCRIPT", "NOSUCH"],
        ["SCRIPT"],
        ["SCRIPT", "EXISTS"],
        ["SCRIPT", "HELP"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "0", "c"],
        ["COMMAND", "GETKEYS", "EVALSHA_RO", "x", "1", "k"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "-1"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "x"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "3", "a"],
    ],
    "read_only_and_flags": [
        ["SET", "k", "v"],
        ["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "k"],
        ["EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", "1", "k"],
        ["EVAL_RO", "return redis.pcall('DEL', KEYS[1])", "1", "k"],
        ["GET", "k"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", "1", "k"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'y')", "1", "k"],
        ["EVAL", "#!lua\nreturn redis.call('SET', KEYS[1], 'z')", "1", "k"],
        ["EVAL_RO", "#!lua\nreturn 1", "0"],
        ["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
        ["EVAL", "#!lua flags=allow-oom,allow-stale,no-writes\nreturn 1", "0"],
        ["EVAL", "#!lua flags=no-writes,bogus\nreturn 1", "0"],
        ["EVAL", "#!lua flags=\nreturn 1", "0"],
        ["EVAL", "#!lua name=x\nreturn 1", "0"],
        ["EVAL", "#!notlua\nreturn 1", "0"],
        ["EVAL", "#!lua", "0"],
        ["EVAL", "#!lua\n\nerror('line three')", "0"],
        ["EVAL", "#!lua flags=allow-cross-slot-keys\nreturn redis.call('MGET', KEYS[1], KEYS[2])",
         "2", "k", "other"],
        ["GET", "k"],
        ["SCRIPT", "LOAD", "return redis.call('DEL', KEYS[1])"],
        ["EVALSHA_RO", "0d2d6cbc4e4a56e9eccdbc77d5f9c7a3c7e2d7f5", "1", "k"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('INCR', KEYS[1])", "1", "k"],
        ["EVAL_RO", "return redis.call('EXPIRE', KEYS[1], 100)", "1", "k"],
        ["TTL", "k"],
    ],
    "writes_and_multi": [
        ["EVAL", SET_GET, "1", "a", "1"],
        ["EVAL", "redis.call('RPUSH', KEYS[1], 'x', 'y'); redis.call('HSET', KEYS[2], 'f', 'v');"
                 " redis.call('INCRBY', KEYS[3], 5); return redis.call('LLEN', KEYS[1])",
         "3", "l", "h", "n"],
        ["LRANGE", "l", "0", "-1"], ["HGETALL", "h"], ["GET", "n"],
        ["EVAL", "redis.call('SET', KEYS[1], 'before'); redis.call('INCR', KEYS[1]); return 1",
         "1", "partial"],
        ["GET", "partial"],
        ["EVAL", "redis.call('DEL', KEYS[1]); return redis.call('EXISTS', KEYS[1])", "1", "a"],
        ["MULTI"],
        ["EVAL", SET_GET, "1", "m", "in-multi"],
        ["INCR", "m2"],
        ["EVAL", "return redis.call('INCR', KEYS[1])", "1", "m2"],
        ["EXEC"],
        ["GET", "m"],
        ["MULTI"],
        ["EVAL", "return 1"],
        ["EXEC"],
        ["MULTI"],
        ["EVAL", "error('inside')", "0"],
        ["SET", "after", "1"],
        ["EXEC"],
        ["GET", "after"],
        ["EVAL", "return redis.call('SELECT', 0)", "0"],
        ["EVAL", "return redis.call('PING')", "0"],
        ["EVAL", "return redis.call('ECHO', 'x')", "0"],
        ["EVAL", "return redis.call('TYPE', KEYS[1])", "1", "l"],
        ["EVAL", "return redis.call('EXPIRE', KEYS[1], 100)", "1", "l"],
        ["EVAL", "return redis.call('TTL', KEYS[1])", "1", "l"],
        ["EVAL", "return redis.call('ZADD', KEYS[1], 1, 'a', 2, 'b')", "1", "z"],
        ["EVAL", "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')", "1", "z"],
        ["EVAL", "return redis.call('ZINCRBY', KEYS[1], 0.5, 'a')", "1", "z"],
        ["EVAL", "return redis.call('HINCRBYFLOAT', KEYS[1], 'g', 1.25)", "1", "h"],
        ["EVAL", "return redis.call('SADD', KEYS[1], 'x', 'y', 'x')", "1", "s"],
        ["EVAL", "return redis.call('SCARD', KEYS[1])", "1", "s"],
        ["EVAL", "return redis.call('GETDEL', KEYS[1])", "1", "n"],
        ["EVAL", "return redis.call('OBJECT', 'ENCODING', KEYS[1])", "1", "s"],
    ],
}

# Redis lets a standalone node's script reach keys it did not declare; Shoal
# refuses them (see cmd/scripting): those replies are compared in their own test.
UNDECLARED = "ERR Script attempted to access a key not declared in KEYS"


def run_commands(port, commands, resp3):
    c = RawClient(port)
    try:
        if resp3:
            c.call("HELLO", "3")
        c.call("FLUSHALL")
        c.call("SCRIPT", "FLUSH")
        return [c.call(*cmd) for cmd in commands]
    finally:
        c.close()


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_matches_redis(name, resp3, shoal, redis_server):
    commands = SCENARIOS[name]
    got = run_commands(shoal.port, commands, resp3)
    want = run_commands(redis_server.port, commands, resp3)
    diffs = [
        f"  {cmd!r}\n    redis: {w!r}\n    shoal: {g!r}"
        for cmd, w, g in zip(commands, want, got)
        if w != g
    ]
    assert not diffs, f"{len(diffs)} replies differ from redis-server:\n" + "\n".join(diffs)


def test_undeclared_keys_are_refused(shoal):
    c = RawClient(shoal.port)
    try:
        c.call("SET", "other", "v")
        got = c.call("EVAL", "return redis.call('GET', 'other')", "0")
        assert got.startswith(b"-" + UNDECLARED.encode()), got
        assert got.endswith(b"on @user_script:1.\r\n"), got
        # pcall catches it, and the declared key is served.
        c.call("SET", "mine", "v")
        got = c.call("EVAL", "local r = redis.pcall('GET', 'other'); return {r.err ~= nil and 1 or 0,"
                     " redis.call('GET', KEYS[1])}", "1", "mine")
        assert got == b"*2\r\n:1\r\n$1\r\nv\r\n", got
        # Whole-keyspace commands need the keyspace.
        got = c.call("EVAL", "return redis.call('DBSIZE')", "0")
        assert got.startswith(b"-" + UNDECLARED.encode()), got
        # allow-undeclared-keys: the script holds every shard and may reach anything.
        got = c.call("EVAL", "#!lua flags=allow-undeclared-keys\n"
                     "return {redis.call('GET', 'other'), redis.call('DBSIZE')}", "0")
        assert got == b"*2\r\n$1\r\nv\r\n:2\r\n", got
        c.call("MULTI")
        c.call("EVAL", "#!lua flags=allow-undeclared-keys\nreturn redis.call('INCR', 'ctr')", "0")
        c.call("INCR", "ctr")
        assert c.call("EXEC") == b"*2\r\n:1\r\n:2\r\n"
    finally:
        c.close()


def test_lock(shoal):
    """redis-py's Lock: acquire, contention, extend, release, reacquire."""
    a = redis.Redis(port=shoal.port)
    b = redis.Redis(port=shoal.port)
    try:
        la = a.lock("resource", timeout=5, blocking=False)
        lb = b.lock("resource", timeout=5, blocking=False)
        assert la.acquire()
        assert not lb.acquire(), "a second client acquired a held lock"
        assert la.owned() and not lb.owned()
        assert la.extend(10)
        assert 5000 < a.pttl("resource") <= 15000
        assert la.reacquire()
        assert 4000 < a.pttl("resource") <= 5000
        with pytest.raises(redis.exceptions.LockError):
            lb.release()
        la.release()
        assert a.get("resource") is None
        assert lb.acquire()
        # A stale token: the lock scripts refuse a client that does not hold it.
        la.local.token = b"stale-token"
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            la.extend(1)
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            la.reacquire()
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            la.release()
        assert lb.owned()
        lb.release()
        # Blocking acquisition waits for the holder's release.
        holder = a.lock("resource", timeout=5, thread_local=False)
        assert holder.acquire()
        waiter = b.lock("resource", timeout=5, blocking_timeout=5, sleep=0.05)
        threading.Timer(0.3, holder.release).start()
        start = time.time()
        assert waiter.acquire()
        assert time.time() - start >= 0.25
        waiter.release()
    finally:
        a.close()
        b.close()


def test_register_script_survives_flush(shoal):
    r = redis.Redis(port=shoal.port, decode_responses=True)
    try:
        incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert incr_by(keys=["c"], args=[5]) == 5
        assert r.script_exists(incr_by.sha) == [True]
        r.script_flush()
        assert r.script_exists(incr_by.sha) == [False]
        # EVALSHA answers NOSCRIPT; redis-py loads the script again and retries.
        assert incr_by(keys=["c"], args=[2]) == 7
        assert r.script_exists(incr_by.sha) == [True]
        assert r.evalsha(incr_by.sha, 1, "c", 1) == 8
        pipe = r.pipeline()
        incr_by(keys=["c"], args=[10], client=pipe)
        incr_by(keys=["c"], args=[10], client=pipe)
        assert pipe.execute() == [18, 28]
    finally:
        r.close()


def test_busy_script_and_script_kill(shoal):
    runner = RawClient(shoal.port, timeout=30)
    other = RawClient(shoal.port)
    try:
        other.call("CONFIG", "SET", "busy-reply-threshold", "500")
        runner.send_raw(encode("EVAL", "while true do end", "0"))
        time.sleep(1.0)
        busy = other.call("PING")
        assert busy == (b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL "
                        b"or SHUTDOWN NOSAVE.\r\n"), busy
        # Another script is refused too, not queued behind the busy one.
        assert other.call("EVAL", "return 1", "0").startswith(b"-BUSY ")
        assert other.call("SCRIPT", "KILL") == b"+OK\r\n"
        killed = runner.read_reply()
        assert killed.startswith(b"-ERR Script killed by user with SCRIPT KILL..."), killed
        assert other.call("PING") == b"+PONG\r\n"
        assert other.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
        # A script that wrote cannot be killed; it finishes on its own.
        runner.send_raw(encode("EVAL", "redis.call('SET', KEYS[1], 'w') local t = redis.call('TIME') "
                               "while redis.call('TIME')[1] - t[1] < 2 do end return 1", "1", "k"))
        time.sleep(1.0)
        assert other.call("SCRIPT", "KILL").startswith(b"-UNKILLABLE Sorry the script already executed")
        assert runner.read_reply() == b":1\r\n"
        assert other.call("GET", "k") == b"$1\r\nw\r\n"
        assert other.call("CONFIG", "GET", "busy-reply-threshold") == (
            b"*2\r\n$20\r\nbusy-reply-threshold\r\n$3\r\n500\r\n")
        assert other.call("CONFIG", "GET", "lua-time-limit") == b"*2\r\n$14\r\nlua-time-limit\r\n$3\r\n500\r\n"
    finally:
        runner.close()
        other.close()


def test_bad_scripts_leave_the_node_serving(shoal):
    c = RawClient(shoal.port, timeout=60)
    try:
        got = c.call("EVAL", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000000) .. i end", "0")
        assert got.startswith(b"-ERR"), got
        assert b"memory" in got, got
        huge = "return 1 " + " " * (8 << 20)
        assert c.call("EVAL", huge, "0") == b":1\r\n"
        assert c.call("EVAL", "local function f() return f() + 1 end return f()", "0").startswith(b"-ERR")
        assert c.call("PING") == b"+PONG\r\n"
        assert c.call("EVAL", "return 'still fine'", "0") == b"$10\r\nstill fine\r\n"
    finally:
        c.close()


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    yield c
    c.stop()


def test_scripts_in_a_cluster(cluster):
    """Keys must share a slot, the script runs on their owner (MOVED to a
    cluster client, forwarded whole on the forwarding port)."""
    raw = RawClient(cluster.ports[0])
    try:
        assert raw.call("EVAL", "return 1", "2", "a", "b") == (
            b"-CROSSSLOT Keys in request don't hash to the same slot\r\n")
        replies = [RawClient(p).call("EVAL", SET_GET, "1", "{sk}", "v") for p in cluster.ports]
        assert sorted(r[:1] for r in replies) == [b"$", b"-", b"-"], replies
        assert all(r.startswith(b"-MOVED ") for r in replies if r[:1] == b"-"), replies
        assert raw.call("EVAL", "#!lua flags=no-cluster\nreturn 1", "0") == (
            b"-ERR Can not run script on cluster, 'no-cluster' flag is set.\r\n")
        assert raw.call("EVAL", "return 'no keys'", "0") == b"$7\r\nno keys\r\n"
        got = raw.call("EVAL", "#!lua flags=allow-undeclared-keys\nreturn 1", "0")
        assert got.startswith(b"-ERR allow-undeclared-keys is not served in a cluster"), got
    finally:
        raw.close()
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0], decode_responses=True)
    try:
        move = "local v = redis.call('LPOP', KEYS[1]) if v then redis.call('RPUSH', KEYS[2], v) end return v"
        rc.rpush("{job}:todo", "j1", "j2")
        assert rc.eval(move, 2, "{job}:todo", "{job}:done") == "j1"
        script = rc.register_script(move)
        assert script(keys=["{job}:todo", "{job}:done"]) == "j2"
        assert script(keys=["{job}:todo", "{job}:done"]) is None
        assert rc.lrange("{job}:done", 0, -1) == ["j1", "j2"]
        lock = rc.lock("{res}:lock", timeout=5)
        assert lock.acquire(blocking=False)
        assert lock.extend(5)
        lock.release()
    finally:
        rc.close()
    # The forwarding port: any node runs the script on the owner, whole.
    for port in cluster.ports:
        plain = redis.Redis(port=port + FORWARD_OFFSET, decode_responses=True)
        try:
            assert plain.eval("return redis.call('INCR', KEYS[1])", 1, "{fwd}:n") >= 1
            assert plain.eval("return redis.call('GET', KEYS[1])", 1, "{job}:todo") is None
        finally:
            plain.close()
    owner = redis.Redis(port=cluster.ports[0] + FORWARD_OFFSET, decode_responses=True)
    try:
        assert owner.get("{fwd}:n") == str(len(cluster.ports))
    finally:
        owner.close()


def test_script_metrics_and_info(shoal):
    c = RawClient(shoal.port)
    try:
        c.call("SCRIPT", "LOAD", "return 1")
        for _ in range(3):
            c.call("EVAL", "return redis.call('INCR', KEYS[1])", "1", "n")
        c.call("EVAL", "error('x')", "0")
        info = c.call("INFO", "memory").decode()
        assert "number_of_cached_scripts:3\r\n" in info, info
        assert "used_memory_lua:" in info
    finally:
        c.close()
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{shoal.admin_port}/metrics", timeout=5).read().decode()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith("shoal_script")}
    assert values["shoal_script_calls_total"] == 4, values
    assert values["shoal_script_errors_total"] == 1, values
    assert values["shoal_script_kills_total"] == 0, values
    assert values["shoal_scripts_cached"] == 3, values
    assert values["shoal_script_run_seconds_total"] > 0, values


def test_pipelined_scripts_keep_their_order(shoal):
    """Pipelined scripts go to the script thread together; their replies and
    those of the plain commands around them stay in order, in both protocols."""
    for resp3 in (False, True):
        c = RawClient(shoal.port)
        try:
            if resp3:
                c.call("HELLO", "3")
            c.call("DEL", "n")
            reqs = [encode("SET", "n", "0")]
            for i in range(150):
                reqs.append(encode("EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"))
                if i % 40 == 0:
                    reqs.append(encode("GET", "n"))
            reqs.append(encode("EVAL", "return redis.call('GET', KEYS[1])", "1", "missing"))
            c.send_raw(b"".join(reqs))
            got = [c.read_reply() for _ in reqs]
            want, n = [b"+OK\r\n"], 0
            for i in range(150):
                n += 1
                want.append(b":%d\r\n" % n)
                if i % 40 == 0:
                    want.append(b"$%d\r\n%d\r\n" % (len(str(n)), n))
            want.append(b"_\r\n" if resp3 else b"$-1\r\n")
            assert got == want
        finally:
            c.close()
