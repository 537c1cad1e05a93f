-- SASL X-OAUTH2, the form ejabberd and slixmpp speak: authzid NUL user NUL token.
-- The backend is profile.xmpp_oauth_xoauth2(sasl, user, token, realm, authzid)
--   -> username, state, info   (info.failure: a SASL condition to fail with)
local nodeprep = require "util.encodings".stringprep.nodeprep;

local M = {};

function M.mechanism(self, message)
	if not message then return "failure", "malformed-request"; end
	local authzid, user, token = message:match("^([^%z]*)%z([^%z]+)%z([^%z]+)$");
	if not authzid then
		return "failure", "malformed-request", "Expected authzid NUL user NUL token.";
	end
	user = nodeprep(user);
	if not user or user == "" then
		return "failure", "malformed-request", "Invalid username.";
	end
	local username, state, info = self.profile.xmpp_oauth_xoauth2(self, user, token, self.realm, authzid ~= "" and authzid or nil);
	if info and info.failure then
		return "failure", info.failure, info.text;
	end
	if state == false then
		return "failure", "account-disabled";
	elseif state == nil or not username then
		return "failure", "not-authorized", "The token is invalid, expired, revoked, or not for this account.";
	end
	self.username = username;
	return "success";
end

return M;
