-- FAST (XEP-0484, Prosody 13's community mod_sasl2_fast) bound to what we
-- decided (issue 24 #3). mod_sasl2_fast mints a token after a SASL2 login and
-- later accepts it instead of asking us, for 21 days. Alone it would outlive
-- a revoked grant or app password, a password change, a disabled or removed
-- account. So:
--   * at minting (sasl2/c2s/success, after mod_sasl2_fast's priority 75) the
--     token's record in mod_sasl2_fast's own store ("fast_tokens", same host)
--     gets the login it came from: via, grant, scope, and for a password
--     login the account's epoch digest, read with one `credential` query;
--     a token we cannot bind is withdrawn (never handed to the client);
--   * at a FAST login (the HT-* profile's tester, wrapped per stream) the
--     presented token is found first (before mod_sasl2_fast rotates or deletes
--     it), and one `credential` query asks whether that grant / app password
--     / password epoch / account still stands. Dead: the token is deleted
--     and the login fails (credentials-expired); component away: the login
--     fails as temporary-auth-failure, never falls through; a token with no
--     binding (minted before this file, or by another provider) fails too.
--   * the FAST session carries the original login's via, grant and scope
--     (session.xmpp_oauth), so a restricted token stays restricted and live
--     revocation closes it like any session of that grant.
-- Revocation of any kind thus needs no news here: the next FAST login asks.
local hashes = require "util.hashes";

local NS_FAST = "urn:xmpp:fast:0";

local M = {};

function M.setup(module, deps)
	local ask, host = deps.ask, module.host;
	local tokens = module:open_store("fast_tokens", "map");

	-- true (alive, epoch), false (dead), or nil (could not ask).
	local function credential(username, via, grant)
		local answer = ask("get", "credential", { user = username, host = host, via = via, grant = grant });
		if answer == nil or answer == true then return nil; end
		if answer.attr.alive ~= "true" then return false; end
		return true, answer.attr.epoch;
	end

	local function still_alive(username, binding)
		local alive, epoch = credential(username, binding.via, binding.grant);
		if alive and binding.via == "password" and epoch ~= binding.epoch then return false; end
		return alive;
	end

	-- The record (and its key) that token_hash proves, as mod_sasl2_fast would find it.
	local function presented(username, client_id, mechanism, token_hash, cb_data)
		if type(client_id) ~= "string" or type(username) ~= "string" then return nil; end
		local base = hashes.sha256(client_id, true);
		for _, key in ipairs({ base .. "-new", base .. "-cur" }) do
			local t = tokens:get(username, key);
			if type(t) == "table" and t.mechanism == mechanism and type(t.secret) == "string"
				and hashes.equals(hashes.hmac_sha256(t.secret, "Initiator" .. (cb_data or "")), token_hash) then
				return t, key;
			end
		end
	end

	local function guard(session, tester)
		return function(mechanism, username, client_id, token_hash, cb_data, invalidate)
			local record, key = presented(username, client_id, mechanism, token_hash, cb_data);
			if record then
				local binding = record.xmpp_oauth;
				local alive = type(binding) == "table" and type(binding.via) == "string" and still_alive(username, binding);
				if alive == nil then
					session.log("info", "FAST login of %s not checked: xmpp-oauth did not answer", username);
					return nil, "temporary-auth-failure";
				elseif not alive then
					session.log("info", "FAST token of %s refused: the login it came from no longer stands", username);
					tokens:set(username, key, nil);
					return nil, "credentials-expired";
				end
				local ok, a, b, c = tester(mechanism, username, client_id, token_hash, cb_data, invalidate);
				if ok then
					session.xmpp_oauth = { via = binding.via, grant = binding.grant, scope = binding.scope };
					session.xmpp_oauth_fast = binding;
				end
				return ok, a, b, c;
			end
			return tester(mechanism, username, client_id, token_hash, cb_data, invalidate);
		end;
	end

	-- After mod_sasl2_fast's own handler (priority 0) made session.fast_sasl_handler.
	module:hook("advertise-sasl-features", function(event)
		local handler = event.origin.fast_sasl_handler;
		local profile = handler and handler.profile;
		if profile and profile.ht_sha_256 and not profile.xmpp_oauth_guarded then
			profile.ht_sha_256 = guard(event.origin, profile.ht_sha_256);
			profile.xmpp_oauth_guarded = true;
		end
	end, -10);

	local function withdraw(event, username, key)
		if key then tokens:set(username, key, nil); end
		event.success:maptags(function(tag)
			if tag.name == "token" and tag.attr.xmlns == NS_FAST then return nil; end
			return tag;
		end);
	end

	-- After mod_sasl2_fast minted (priority 75), before the success is sent (-1000).
	module:hook("sasl2/c2s/success", function(event)
		local session = event.session;
		local success = event.success;
		local minted = success and success:get_child("token", NS_FAST);
		if not minted then return; end
		local username, client_id = session.username, session.client_id;
		local key = type(client_id) == "string" and hashes.sha256(client_id, true) .. "-new";
		local record = key and tokens:get(username, key);
		if type(record) ~= "table" or record.secret ~= minted.attr.token then
			session.log("warn", "FAST token minted but not found in its store: withdrawn");
			return withdraw(event, username, nil);
		end
		-- A rotation after a FAST login keeps the binding just checked.
		local binding = session.xmpp_oauth_fast;
		if not binding then
			local login = session.xmpp_oauth;
			if not (login and login.via) then
				session.log("info", "FAST token withdrawn: the login was not decided by xmpp-oauth");
				return withdraw(event, username, key);
			end
			local alive, epoch = credential(username, login.via, login.grant);
			if not alive then
				session.log("info", "FAST token withdrawn: %s", alive == nil and "xmpp-oauth did not answer" or "the login no longer stands");
				return withdraw(event, username, key);
			end
			binding = { via = login.via, grant = login.grant, scope = login.scope, epoch = epoch };
		end
		record.xmpp_oauth = binding;
		if not tokens:set(username, key, record) then
			session.log("warn", "FAST token could not be bound to its login: withdrawn");
			return withdraw(event, username, key);
		end
	end, 70);
end

return M;
