-- wrk script: replay complete USSD sessions as Africa's Talking would send them.
-- Run with one connection per thread (wrk -t N -c N) so each session's hops stay in order.
-- Environment: USSD_IDS (a Lua file returning {phones = {...}, dnis = {{dni, ddmmaaaa}, ...},
-- strangers = {...}}: phones of record, titulars' DNIs and birth dates, phones of no household),
-- USSD_RUN (a tag that keeps sessionIds and caller phones unique across runs),
-- USSD_BARE=1 (the baseline: any CON/END reply is right), USSD_PATH (default /ussd).

local ids = dofile(os.getenv("USSD_IDS"))
local run = os.getenv("USSD_RUN") or tostring(os.time())
local bare = os.getenv("USSD_BARE") == "1"
local path = os.getenv("USSD_PATH") or "/ussd"
local threads = {}
local counter = 0

-- Sessions as the inputs a caller types, hop after hop (the first hop's text is empty).
-- "D" and "B" stand for the DNI and the date of birth of a DNI caller.
local record_flows = {
  {"1", "0", "2", "00", "0"},            -- next payment, back, status, main menu, exit
  {"2", "98", "0", "3", "0", "0"},       -- status, more, back, co-responsibilities, back, exit
  {"1", "00", "0"},                      -- next payment, main menu, exit
}
local dni_flows = {
  {"D", "B", "1", "0", "0"},             -- DNI, birth date, next payment, back, exit
  {"D", "B", "2", "00", "3", "0", "0"},  -- ... status, main menu, co-responsibilities, back, exit
  {"D", "0", "D", "B", "1", "00", "0"},  -- DNI, back (typo), DNI again, birth date, pay, exit
}

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919 + #run)
  wrk.method = "POST"
  wrk.path = path
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  n = 0          -- sessions started by this thread
  sessions = 0   -- sessions answered to the end
  errors = 0     -- non-2xx, or a body that is not CON/END, or END/CON out of place
  bad_status = 0
  bad_body = 0
  flow, hop, typed = nil, 0, {}
end

-- Threads take disjoint phones: two live sessions of one phone would meet the resume offer.
local function pick(list)
  local slots = math.max(math.floor(#list / 256), 1)
  return list[((tid % 256) * slots + math.random(slots) - 1) % #list + 1]
end

local function new_session()
  n = n + 1
  sid = string.format("ATUid_%s_%d_%d", run, tid, n)
  -- Every other session is a phone of record, the rest DNI callers on their own phones.
  if n % 2 == 0 and #ids.phones > 0 then
    phone = pick(ids.phones)
    flow = record_flows[math.random(#record_flows)]
    ident = nil
  else
    phone = pick(ids.strangers)  -- no household's phone of record: asked for a DNI
    flow = dni_flows[math.random(#dni_flows)]
    ident = ids.dnis[math.random(#ids.dnis)]
  end
  hop, typed = 0, {}
end

local function encode(s)
  return (s:gsub("[^%w%-_%.]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  if flow == nil or hop > #flow then
    new_session()
  end
  if hop > 0 then
    local input = flow[hop]
    if input == "D" then input = ident[1] elseif input == "B" then input = ident[2] end
    table.insert(typed, input)
  end
  local body = "sessionId=" .. sid .. "&serviceCode=" .. encode("*1880#") ..
    "&phoneNumber=" .. encode(phone) .. "&networkCode=71610&text=" .. encode(table.concat(typed, "*"))
  hop = hop + 1
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  local last = hop > #flow
  local kind = body:sub(1, 4)
  if status < 200 or status > 299 then
    errors = errors + 1
    bad_status = bad_status + 1
  elseif kind ~= "CON " and kind ~= "END " then
    errors = errors + 1
    bad_body = bad_body + 1
  elseif not bare and ((last and kind ~= "END ") or (not last and kind ~= "CON ")) then
    errors = errors + 1  -- e.g. the polite "service unavailable" END in the middle of a session
    bad_body = bad_body + 1
  end
  if last then
    sessions = sessions + 1
  end
  if not bare and not last and kind == "END " then
    flow = nil  -- the server ended it early: start the next session
  end
end

function done(summary, latency, requests)
  local total_sessions, total_errors, s_status, s_body = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    total_sessions = total_sessions + t:get("sessions")
    total_errors = total_errors + t:get("errors")
    s_status = s_status + t:get("bad_status")
    s_body = s_body + t:get("bad_body")
  end
  local e = summary.errors
  local transport = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "sessions": %d, "errors": %d, ' ..
    '"non_2xx": %d, "bad_body": %d, "transport_errors": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, total_sessions, total_errors + transport,
    s_status, s_body, transport, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
