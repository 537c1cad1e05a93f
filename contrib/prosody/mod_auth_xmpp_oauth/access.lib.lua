-- What a session may do with its account, from the scope it logged in with
-- (issue 14 contract 1, issue 22 #2). One place, so the stanza filter, the
-- XEP-0494 handlers and the answer to the component's <session/> query agree.
--   "full"  a normal session (xmpp:client:normal or xmpp), a password login,
--           or a login this module did not make;
--   "write" restricted: list and revoke clients, change the password;
--   "read"  restricted: list clients, nothing else.
local M = {};

function M.has_scope(scope, wanted)
	for s in (scope or ""):gmatch("%S+") do
		if s == wanted then return true; end
	end
	return false;
end

-- Restricted iff no normal-session scope and at least one account scope.
function M.is_restricted(scope)
	if M.has_scope(scope, "xmpp:client:normal") or M.has_scope(scope, "xmpp") then return false; end
	return M.has_scope(scope, "xmpp:account:read") or M.has_scope(scope, "xmpp:account:write");
end

function M.level(session)
	local login = session and session.xmpp_oauth;
	if login == nil then return "full"; end
	if login.level == nil then
		if not M.is_restricted(login.scope) then
			login.level = "full";
		else
			login.level = M.has_scope(login.scope, "xmpp:account:write") and "write" or "read";
		end
	end
	return login.level;
end

-- May a session at `level` do what needs `needed` ("read" or "write")?
function M.allows(level, needed)
	if level == "full" or level == "write" then return true; end
	return needed == "read";
end

return M;
