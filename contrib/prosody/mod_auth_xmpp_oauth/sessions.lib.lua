-- Live sessions and the grants they logged in with (issue 14).
--
-- Every session that logged in through this module carries
-- session.xmpp_oauth = { via, grant, scope } (set at authentication-success).
-- The component tells us when a grant is revoked (<revoked/>), and we close
-- every session that used it, with a stream error. The component may also ask
-- which grants our live sessions use (<sessions/>): it does so whenever its link
-- comes up, so a revocation that happened while no component was attached still
-- ends the sessions. An account removed or disabled (<logout user/>) loses
-- every live session, whatever it logged in with: a password session has no
-- grant, and a JID created again for someone else must not reach the old
-- holder. With via="app-password" (an upstream logout) only the sessions
-- opened with an app password end. Because the grant is on the session
-- itself, sessions opened while the component was away are covered like any
-- other.
-- Protocol: docs/protocol.md, "Live sessions".

local st = require "util.stanza";
local jid_bare = require "util.jid".bare;
local new_cache = require "util.cache".new;
local gettime = require "socket".gettime;
local storagemanager = require "core.storagemanager";

local NS = "urn:xmpp-oauth:auth:0";

local M = {};

-- Closes with a stream error naming the cause (RFC 6120 policy-violation);
-- the same for a grant and a whole account (news of both may race).
local REVOKED = { condition = "policy-violation", text = "access revoked" };

function M.setup(module, opts)
	local host = module.host;
	local component = opts.component and opts.component:lower();

	-- Grants revoked lately: a login whose token check passed just before the
	-- news arrived is not yet in the session table, so it is caught at bind.
	local recently_revoked = new_cache(1000);
	-- Same for accounts: username -> { at = when, via = which logins (nil: all) }.
	local recently_logged_out = new_cache(1000);

	local function user_sessions(username)
		local user = prosody.hosts[host].sessions[username];
		return user and user.sessions or {};
	end

	-- Every bound session of one user, or of the whole host (the component
	-- names the account whenever it knows it, so the host-wide walk is rare).
	local function sessions_of(username)
		local out = {};
		if username then
			for _, session in pairs(user_sessions(username)) do out[#out + 1] = session; end
		else
			for _, user in pairs(prosody.hosts[host].sessions) do
				for _, session in pairs(user.sessions or {}) do out[#out + 1] = session; end
			end
		end
		return out;
	end

	local function close_grant(grant, username)
		local closed = 0;
		-- Collected first: closing a session edits the tables we would be walking.
		for _, session in ipairs(sessions_of(username)) do
			local login = session.xmpp_oauth;
			if login and login.grant == grant then
				session.log("info", "Closing session: its grant was revoked");
				session:close(REVOKED);
				closed = closed + 1;
			end
		end
		return closed;
	end

	local function from_component(stanza)
		local from = stanza.attr.from and jid_bare(stanza.attr.from);
		return component ~= nil and from ~= nil and from:lower() == component;
	end

	module:hook("iq-set/host/" .. NS .. ":revoked", function(event)
		local origin, stanza = event.origin, event.stanza;
		if not from_component(stanza) then
			module:log("info", "Ignoring a revocation notice from %s: not the xmpp-oauth component", stanza.attr.from or "?");
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		local tag = stanza.tags[1];
		local grant = tag.attr.grant;
		if not grant or grant == "" then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "a grant attribute is required"));
			return true;
		end
		recently_revoked:set(grant, true);
		local closed = close_grant(grant, tag.attr.user);
		module:log("info", "Grant revoked: %d session(s) closed", closed);
		origin.send(st.reply(stanza):tag("revoked", { xmlns = NS, closed = tostring(closed) }));
		return true;
	end);

	local function ends(logout, session)
		-- `before`: only sessions older than that (the re-check found a JID created again).
		if logout.before and (session.conntime or 0) >= logout.before then return false; end
		if not logout.via then return true; end
		local login = session.xmpp_oauth;
		return login ~= nil and login.via == logout.via;
	end

	module:hook("iq-set/host/" .. NS .. ":logout", function(event)
		local origin, stanza = event.origin, event.stanza;
		if not from_component(stanza) then
			module:log("info", "Ignoring an account logout from %s: not the xmpp-oauth component", stanza.attr.from or "?");
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		local tag = stanza.tags[1];
		local user, via, before, removed = tag.attr.user, tag.attr.via, tag.attr.before, tag.attr.removed;
		if not user or user == "" or #user > 1023 then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "a user attribute is required"));
			return true;
		end
		if via ~= nil and via ~= "app-password" and via ~= "password" then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "via must be app-password, password or absent"));
			return true;
		end
		if before ~= nil and not tonumber(before) then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "before must be seconds since the epoch"));
			return true;
		end
		if removed ~= nil and (removed ~= "true" or via ~= nil or before ~= nil) then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "removed is \"true\", and only for a whole account"));
			return true;
		end
		local logout = { at = gettime(), via = via, before = tonumber(before) };
		recently_logged_out:set(user, logout);
		local closed = 0;
		-- Collected first: closing a session edits the tables we would be walking.
		for _, session in ipairs(sessions_of(user)) do
			if ends(logout, session) then
				session.log("info", "Closing session: its account was logged out (%s)", via or "every login");
				session:close(REVOKED);
				closed = closed + 1;
			end
		end
		module:log("info", "Account logout: %d session(s) closed", closed);
		if removed then
			-- Removed in xmpp-oauth: what this server kept of the account goes too, as
			-- usermanager.delete_user does after a provider's delete_user, so a later
			-- holder of the JID inherits no roster, archive or role of the old one.
			prosody.events.fire_event("user-deleted", { username = user, host = host });
			local ok, err = storagemanager.purge(user, host);
			-- mod_roster's user-deleted handler leaves the old roster in rostermanager's
			-- offline cache, where the next holder of the JID would find it.
			local roster_cache = prosody.hosts[host].roster_cache;
			if roster_cache then roster_cache:set(user .. "@" .. host, nil); end
			if ok then
				module:log("info", "Account %s removed in xmpp-oauth: its data on this host is purged", user);
			else
				module:log("warn", "Account %s removed in xmpp-oauth, but purging its data failed: %s", user, tostring(err));
			end
		end
		origin.send(st.reply(stanza):tag("logout", { xmlns = NS, closed = tostring(closed) }));
		return true;
	end);

	module:hook("iq-get/host/" .. NS .. ":sessions", function(event)
		local origin, stanza = event.origin, event.stanza;
		if not from_component(stanza) then
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		local only = stanza.tags[1].attr.user;
		local reply = st.reply(stanza):tag("sessions", { xmlns = NS });
		-- Host-wide (the re-check) one entry per grant keeps the answer small on a busy server.
		local seen = {};
		-- Host-wide, also one entry per account whose sessions have no grant
		-- (passwords), with its oldest session: the component checks that the
		-- account still exists, is enabled, and is not younger than the session.
		local grantless = {};
		for _, session in ipairs(sessions_of(only)) do
			local login = session.xmpp_oauth;
			local since = math.floor(session.conntime or os.time());
			if login and login.grant and (only or not seen[login.grant]) then
				seen[login.grant] = true;
				reply:tag("session", {
					grant = login.grant,
					user = session.username,
					since = string.format("%d", since),
				}):up();
			elseif not only and not (login and login.grant) and session.username then
				local oldest = grantless[session.username];
				if not oldest or since < oldest then grantless[session.username] = since; end
			end
		end
		for username, since in pairs(grantless) do
			reply:tag("session", { user = username, since = string.format("%d", since) }):up();
		end
		origin.send(reply);
		return true;
	end);

	module:hook("resource-bind", function(event)
		local session = event.session;
		local login = session.xmpp_oauth;
		if login and login.grant and recently_revoked:get(login.grant) then
			session.log("info", "Closing session: its grant was revoked while it logged in");
			session:close(REVOKED);
			return;
		end
		-- A connection older than the account's logout that binds only now logged in before it.
		local logout = session.username and recently_logged_out:get(session.username);
		if logout and (session.conntime or 0) < logout.at and ends(logout, session) then
			session.log("info", "Closing session: its account was logged out while it logged in");
			session:close(REVOKED);
		end
	end);

	return {
		-- For the XEP-0494 list: which grants one user's live sessions use.
		connected_grants = function(username)
			local grants = {};
			for _, session in pairs(user_sessions(username)) do
				local login = session.xmpp_oauth;
				if login and login.grant then grants[login.grant] = true; end
			end
			return grants;
		end;
		user_sessions = user_sessions;
	};
end

return M;
