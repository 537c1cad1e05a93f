-- STAND-IN for contract 2 until the xep0493 branch lands (the lead replaces
-- this file with xep0493's login code at merge): after a successful login,
-- session.xmpp_oauth = { via, grant, scope } from what the component answered,
-- which the PLAIN check stashed on the SASL handler.

local M = {};

function M.setup(module)
	module:hook("authentication-success", function(event)
		local session = event.session;
		local stash = session.sasl_handler and session.sasl_handler.xmpp_oauth_login;
		session.xmpp_oauth = stash or { via = "password" };
	end, 100);
end

return M;
