-- wrk script: POST one analytics event of about 1 KiB to /v1/analytics/events.
local padding = string.rep("x", 900)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"events":[{"name":"screen_view","user_id":"u-1","properties":{"screen":"home","padding":"' .. padding .. '"}}]}'
