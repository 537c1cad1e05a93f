-- SASL OAUTHBEARER (RFC 7628). Prosody 0.12 has none; Prosody 13's own
-- (util.sasl.oauthbearer) can only answer a refusal with the invalid_token
-- challenge, so a XEP-0493 client would discard a good token during an
-- outage. Our SASL handler runs this one on both (sasl.lib.lua). The backend
-- is the profile callback Prosody 13's mechanism uses too:
--   profile.oauthbearer(sasl, token, realm, authzid) -> username, state, token_info
-- and this mechanism also honours token_info.failure (a SASL condition such as
-- "invalid-authzid" or "temporary-auth-failure") when the callback sets it.
local json = require "util.json";

local KVSEP = "\1";
local MAX_TOKEN = 4096;

local M = {};

-- RFC 5801 saslname: "=2C" is ",", "=3D" is "=", any other "=" is an error.
local function decode_saslname(s)
	if s:gsub("=2C", ""):gsub("=3D", ""):find("=", 1, true) then return nil; end
	return (s:gsub("=2C", ","):gsub("=3D", "="));
end

-- Parses an RFC 7628 section 3.1 client response:
--   gs2-header kvsep *kvpair kvsep, gs2-header = gs2-cb-flag "," [authzid] ","
-- Returns { authzid = string|nil, token = string ("" when none), pairs = {k=v} },
-- or nil and why it is malformed.
function M.parse(message)
	local cb_flag, authz, rest = message:match("^([^,]*),([^,]*),(.*)$");
	if not cb_flag then return nil, "no GS2 header"; end
	-- OAUTHBEARER has no channel binding: "p=..." asks for one (RFC 7628 section 3.1).
	if cb_flag ~= "n" and cb_flag ~= "y" then return nil, "unsupported GS2 channel binding flag"; end
	local authzid;
	if authz ~= "" then
		local name = authz:match("^a=(.+)$");
		authzid = name and decode_saslname(name);
		if not authzid then return nil, "bad authzid in GS2 header"; end
	end
	if rest:sub(1, 1) ~= KVSEP or rest:sub(-2) ~= KVSEP .. KVSEP then
		return nil, "key/value pairs not framed by %x01";
	end
	local pairs_ = {};
	local body = rest:sub(2, -2); -- each pair ends in kvsep
	for pair in body:gmatch("([^\1]*)\1") do
		local key, value = pair:match("^(%a+)=(.*)$");
		if not key or value:find("[^\33-\126 \t\r\n]") then return nil, "bad key/value pair"; end
		if pairs_[key] then return nil, "duplicate key " .. key; end
		pairs_[key] = value;
	end
	local auth = pairs_.auth;
	if not auth then return nil, "no auth key"; end
	if pairs_.port and not pairs_.port:match("^%d+$") then return nil, "port is not a number"; end
	local token;
	if auth == "" then
		token = ""; -- XEP-0493 discovery: no token yet
	else
		-- No scheme at all (e.g. the value starts with a space) is malformed too.
		local scheme, credentials = auth:match("^(%S+)(.*)$");
		if not scheme or scheme:lower() ~= "bearer" then return nil, "auth scheme is not Bearer"; end
		token = credentials:match("^ +(.*)$") or credentials;
		-- RFC 6750 b64token
		if token ~= "" and not token:match("^[%w%-%._~%+/]+=*$") then return nil, "token is not a b64token"; end
		if #token > MAX_TOKEN then return nil, "token too long"; end
	end
	return { authzid = authzid, token = token, pairs = pairs_ };
end

local function challenge(token_info)
	return json.encode({
		status = token_info and token_info.status or "invalid_token";
		scope = token_info and token_info.scope or nil;
		["openid-configuration"] = token_info and token_info.oidc_discovery_url or nil;
	});
end

function M.mechanism(self, message)
	-- RFC 7628 section 3.2.3: after the error challenge the client sends %x01
	-- and the exchange fails.
	if self.oauthbearer_state == "challenged" then
		self.oauthbearer_state = nil;
		if message == KVSEP then return "failure", "not-authorized"; end
		return "failure", "malformed-request", "Expected %x01 after the error challenge.";
	end
	if message == nil and not self.oauthbearer_state then
		-- No initial response: an empty challenge asks for it (RFC 6120 section 6.4.2).
		self.oauthbearer_state = "waiting";
		return "challenge", "";
	end
	self.oauthbearer_state = nil;
	if not message then return "failure", "malformed-request"; end
	local parsed, why = M.parse(message);
	if not parsed then
		return "failure", "malformed-request", "Malformed OAUTHBEARER message: " .. why .. ".";
	end
	local username, state, token_info = self.profile.oauthbearer(self, parsed.token, self.realm, parsed.authzid);
	if token_info and token_info.failure then
		return "failure", token_info.failure, token_info.text;
	end
	if state == false then
		return "failure", "account-disabled";
	elseif state == nil or not username then
		self.oauthbearer_state = "challenged";
		return "challenge", challenge(token_info);
	end
	self.username = username;
	self.token_info = token_info;
	return "success";
end

return M;
