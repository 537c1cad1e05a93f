-- The auth provider Prosody calls (core.usermanager): each call becomes one
-- query to the component (docs/xmpp-servers.md lists them).
local saslprep = require "util.encodings".stringprep.saslprep;
local random_bytes = require "util.random".bytes;
local base64 = require "util.encodings".base64.encode;

local M = {};

function M.new(deps)
	local ask, login, host, known_users = deps.ask, deps.login, deps.host, deps.known_users;
	local provider = { get_sasl_handler = deps.sasl_handler };

	function provider.test_password(username, password)
		-- SASLprep as Prosody's own providers do; tokens are plain ASCII and pass unchanged.
		local prepped = saslprep(password);
		if not prepped then
			return nil, "Password fails SASLprep.";
		end
		local outcome, answer = login.check(nil, nil, username, prepped);
		if outcome == "ok" then return true; end
		if outcome == "unavailable" then return nil, "Authentication service unavailable"; end
		if outcome == "throttled" then
			return nil, "Too many failed attempts; retry in " .. (answer.attr["retry-after"] or "a few") .. " seconds.";
		end
		return nil, "Auth failed. Invalid username, password or token.";
	end

	-- Accounts the component has lately said exist (or that just logged in).
	-- While the component is away, user_exists answers from here: Prosody asks
	-- it before storing a message for an offline user, and a false answer
	-- bounces the message, which an outage of the component must not do to a
	-- real account.
	function provider.user_exists(username)
		local answer = ask("get", "isuser", { user = username, host = host });
		if answer then
			local exists = answer.attr.exists == "true";
			known_users:set(username, exists or nil);
			return exists;
		end
		if known_users:get(username) then
			module:log("info", "xmpp-oauth is away; %s@%s existed when last asked, so it still does", username, host);
			return true;
		end
		return false;
	end

	-- Prosody 13's usermanager.user_is_enabled (issue 24 #3): false for a
	-- disabled or removed account, nil and a reason when the component is away.
	-- mod_sasl2_fast's get_account_info/password_updated is not implemented:
	-- fast.lib.lua binds each FAST token to its login instead.
	function provider.is_enabled(username)
		local answer, err = ask("get", "credential", { user = username, host = host, via = "password" });
		if not answer then return nil, err; end
		return answer ~= true and answer.attr.alive == "true";
	end

	-- Prosody 13's usermanager.disable_user / enable_user (`prosodyctl shell
	-- user disable|enable`, issue 24 #6): the same switch as `xmpp-oauth user
	-- disable|enable`, so the two agree. Disabling also revokes the account's
	-- grants; Prosody's mod_c2s then closes its live sessions (user-disabled).
	function provider.disable(username)
		local ok, err = ask("set", "disable", { user = username, host = host });
		if not ok then return nil, err; end
		return true;
	end

	function provider.enable(username)
		local ok, err = ask("set", "enable", { user = username, host = host });
		if not ok then return nil, err; end
		return true;
	end

	-- Accounts created with the placeholder password and still waiting for their own.
	local placeholders = {};

	function provider.set_password(username, password)
		local ok, err = ask("set", "setpass", { user = username, host = host }, password);
		local placeholder = placeholders[username];
		placeholders[username] = nil;
		if not ok then
			-- Prosody 13 leaves the account behind when this step fails (a password
			-- our policy refuses): nobody could use it, and the name would stay taken.
			if placeholder then
				module:log("info", "Removing %s@%s again: its password was refused (%s)", username, host, tostring(err));
				ask("set", "remove", { user = username, host = host });
				known_users:set(username, nil);
			end
			return nil, err;
		end
		return true;
	end

	function provider.create_user(username, password)
		-- Prosody 13 creates every account (in-band registration, invites,
		-- `prosodyctl adduser`) as create_user(name, nil), then sets its role,
		-- then its password (usermanager.create_user_with_role). xmpp-oauth
		-- accounts always have a password: this one is random, never stored or
		-- shown, so the account exists at once and nobody can log in to it
		-- until set_password gives it the real one (review 22 #6).
		local placeholder = password == nil;
		if placeholder then
			module:log("info", "Creating %s@%s with an unusable password until its own is set", username, host);
			password = base64(random_bytes(32));
		end
		local ok, err = ask("set", "register", { user = username, host = host }, password);
		if not ok then return nil, err; end
		if placeholder then placeholders[username] = true; end
		known_users:set(username, true);
		return true;
	end

	function provider.delete_user(username)
		local ok, err = ask("set", "remove", { user = username, host = host });
		if not ok then return nil, err; end
		known_users:set(username, nil);
		return true;
	end

	function provider.users()
		local answer = ask("get", "users", { host = host });
		local names = {};
		if answer then
			for user in answer:childtags("user") do
				names[#names + 1] = user:get_text();
			end
		end
		local i = 0;
		return function()
			i = i + 1;
			return names[i];
		end;
	end

	return provider;
end

return M;
