-- XEP-0494 Client Access Management (urn:xmpp:cam:0) for IQs a user sends to
-- their own bare JID (issue 14). Grants live in the xmpp-oauth component, so
-- the list and the revocation are asked of it; which grants are connected, and
-- which sessions logged in with the password, only this server knows.
-- Protocol: docs/protocol.md, "Client access (XEP-0494)".

local st = require "util.stanza";
local datetime = require "util.datetime".datetime;
local new_id = require "util.id".medium;

local NS_CAM = "urn:xmpp:cam:0";

-- Issue 24 #4: on a host that logs in through us, we answer urn:xmpp:cam:0, since
-- the grants live in xmpp-oauth. Our handlers run above the default priority (0)
-- that mod_client_management (prosody-modules) and other modules hook at, and
-- return true, so a second XEP-0494 module on the host never sees these IQs.
-- Its other hooks (sasl2/c2s/success, resource-bind, authentication-success)
-- only observe and are left alone. docs/xmpp-servers.md, "Client access".
local PRIORITY = 10;

local access = module:require "access";

local M = {};

-- opts: ask (the module's component query), sessions (from sessions.lib.lua)
function M.setup(module, opts)
	local host = module.host;
	local ask, sessions = opts.ask, opts.sessions;

	module:add_feature(NS_CAM);

	-- A password session's XEP-0494 id: random, kept on the session, so it is
	-- stable while the session lives and reveals nothing.
	local function session_id(session)
		if not session.xmpp_oauth_cam_id then session.xmpp_oauth_cam_id = "s-" .. new_id(); end
		return session.xmpp_oauth_cam_id;
	end

	local function password_sessions(username)
		local out = {};
		for _, session in pairs(sessions.user_sessions(username)) do
			local login = session.xmpp_oauth;
			if not (login and login.grant) then out[#out + 1] = session; end
		end
		return out;
	end

	local function password_client(session)
		local since = math.floor(session.conntime or os.time());
		-- SASL2's <user-agent> of the login (issue 24 #2), else the resource the client named itself.
		local agent = session.xmpp_oauth and session.xmpp_oauth.user_agent or {};
		local client = st.stanza("client", { xmlns = NS_CAM, id = session_id(session), type = "session", connected = "true" })
			:text_tag("first-seen", datetime(since))
			:text_tag("last-seen", datetime(os.time()))
			:tag("auth"):tag("password"):up():up()
			:tag("permission", { status = "unrestricted" }):up()
			:tag("user-agent", { id = agent.id }):text_tag("software", agent.software or session.resource or "XMPP client");
		if agent.device then client:text_tag("device", agent.device); end
		return client:up();
	end

	local function unavailable(stanza)
		return st.error_reply(stanza, "wait", "internal-server-error", "The access list is unavailable right now; retry later");
	end

	module:hook("iq-get/self/" .. NS_CAM .. ":list", function(event)
		local origin, stanza = event.origin, event.stanza;
		local answer, err = ask("get", "clients", { user = origin.username, host = host });
		if not answer then
			origin.log("info", "XEP-0494 list failed: %s", tostring(err));
			origin.send(unavailable(stanza));
			return true;
		end
		local connected = sessions.connected_grants(origin.username);
		local reply = st.reply(stanza):tag("clients", { xmlns = NS_CAM });
		for client in answer:childtags("client", NS_CAM) do
			local copy = st.clone(client);
			copy.attr.scope = nil; -- ours, for restrict; not part of XEP-0494
			local live = connected[copy.attr.id] == true;
			copy.attr.connected = live and "true" or "false";
			if live then
				-- In use right now: the last time it was seen is now (XEP-0494 §3.1).
				local last = copy:get_child("last-seen");
				if last then last[1] = datetime(os.time()); end
			end
			reply:add_child(copy);
		end
		for _, session in ipairs(password_sessions(origin.username)) do
			reply:add_child(password_client(session));
		end
		origin.send(reply);
		return true;
	end, PRIORITY);

	module:hook("iq-set/self/" .. NS_CAM .. ":revoke", function(event)
		local origin, stanza = event.origin, event.stanza;
		-- Revoking needs xmpp:account:write (issue 22 #2); restrict.lib.lua refuses it
		-- first, this holds should that filter ever let it through.
		if not access.allows(access.level(origin), "write") then
			origin.log("info", "XEP-0494: refusing a revoke from a read-only session");
			origin.send(st.error_reply(stanza, "auth", "forbidden", "Revoking needs the xmpp:account:write scope"));
			return true;
		end
		local id = stanza.tags[1].attr.id;
		if type(id) ~= "string" or id == "" or #id > 200 then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "revoke needs the id of a listed client"));
			return true;
		end
		for _, session in ipairs(password_sessions(origin.username)) do
			if session.xmpp_oauth_cam_id == id then
				-- XEP-0494 §3.2: only a password change ends password access.
				origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "Change the password to end this access")
					:tag("password-reset-required", { xmlns = NS_CAM }):up());
				return true;
			end
		end
		if not id:match("^[%w_-]+$") then
			origin.send(st.error_reply(stanza, "cancel", "item-not-found", "No such client"));
			return true;
		end
		-- The session's scope goes along, so the component checks it too.
		local login = origin.xmpp_oauth;
		local ok, err, _, condition = ask("set", "revoke-grant",
			{ user = origin.username, host = host, grant = id, scope = login and login.scope or nil });
		if ok then
			origin.log("info", "XEP-0494: the user revoked one of their clients");
			origin.send(st.reply(stanza));
		elseif condition == "item-not-found" then
			origin.send(st.error_reply(stanza, "cancel", "item-not-found", "No such client"));
		elseif condition == "forbidden" then
			origin.send(st.error_reply(stanza, "auth", "forbidden", "Revoking needs the xmpp:account:write scope"));
		elseif condition == "bad-request" then
			origin.send(st.error_reply(stanza, "modify", "bad-request"));
		else
			origin.log("info", "XEP-0494 revoke failed: %s", tostring(err));
			origin.send(unavailable(stanza));
		end
		return true;
	end, PRIORITY);

	-- The wrong IQ type for an operation is a malformed request, not an unknown one.
	local function malformed(event)
		event.origin.send(st.error_reply(event.stanza, "modify", "bad-request", "list is a get, revoke a set"));
		return true;
	end
	module:hook("iq-set/self/" .. NS_CAM .. ":list", malformed, PRIORITY);
	module:hook("iq-get/self/" .. NS_CAM .. ":revoke", malformed, PRIORITY);
end

return M;
