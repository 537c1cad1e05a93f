-- Prosody 13 roles of this host's accounts (review 22 #6). 0.12 has no roles.
--
-- Prosody 13 gives an account with no stored role the host's
-- default_user_role, which is prosody:registered unless set: the role Prosody
-- means for self-registered strangers. Accounts here are provisioned by
-- xmpp-oauth (an operator's `xmpp-oauth user add`, upstream sign-in, ...), so
-- they are prosody:member, the role `prosodyctl adduser` gives. A role stored
-- for the account (an admin's `user:set_role`, `admins` in the config) still
-- wins, and so does an operator's own default_user_role. In-band
-- registration's prosody:registered (register_ibr_default_role) is kept: it
-- is stored explicitly instead of being left as "the default".
local M = {};

local MEMBER, REGISTERED = "prosody:member", "prosody:registered";

function M.setup(module)
	local authz = prosody.hosts[module.host].authz;
	if not (authz and authz.get_user_role and authz.set_user_role and authz.get_role_by_name) then
		return; -- Prosody 0.12
	end
	-- Another authorization provider, or an operator's choice: theirs to decide.
	if (module:get_option_string("authorization") or "internal") ~= "internal"
		or module:get_option_string("default_user_role") then
		return;
	end
	local role_map = module:open_store("account_roles", "map");
	local get_user_role, set_user_role = authz.get_user_role, authz.set_user_role;

	-- Module globals of mod_authz_internal: its own calls (get_jid_role, ...)
	-- come through these too.
	authz.get_user_role = function(user)
		local role, err = get_user_role(user);
		if role and role.name == REGISTERED and role_map:get(user, "_default") == nil then
			return authz.get_role_by_name(MEMBER);
		end
		return role, err;
	end;
	authz.set_user_role = function(user, role_name)
		local role, err = set_user_role(user, role_name);
		-- mod_authz_internal stores no role equal to its default; the default is
		-- member here, so prosody:registered must be stored to hold.
		if role and role_name == REGISTERED then
			local ok, store_err = role_map:set(user, "_default", REGISTERED);
			if not ok then return nil, store_err; end
		end
		return role, err;
	end;
	module:log("debug", "Accounts of %s without a stored role are %s", module.host, MEMBER);

	function module.unload()
		authz.get_user_role, authz.set_user_role = get_user_role, set_user_role;
	end
end

return M;
