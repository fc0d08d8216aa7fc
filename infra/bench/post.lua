-- wrk: POST a form with HTTP Basic client authentication.
-- Usage: wrk ... -s post.lua URL -- BODY AUTHORIZATION
local body, auth
function init(args)
  body, auth = args[1], args[2]
end
function request()
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
  }, body)
end
