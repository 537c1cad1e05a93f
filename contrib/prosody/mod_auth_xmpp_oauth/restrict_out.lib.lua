-- What reaches a restricted session (review 22, second round): the last gate,
-- on the session's own output, so that nothing another module hands it with
-- session.send (message carbons that Bind2 switched on at login, archive
-- results, presence broadcasts) gets past the routing hooks of restrict.lib.lua.
-- An allow-list again: from its server or the xmpp-oauth component anything;
-- from its own account IQs only (roster pushes, XEP-0494 answers); nothing else.
local jid_bare = require "util.jid".bare;
local filters = require "util.filters";

local access = module:require "access";

local M = {};

function M.setup(module, opts)
	local host = module.host;
	local component = opts.component and opts.component:lower();

	local function passes(session, stanza)
		-- The filter's own refusals of what the session tried to send (restrict.lib.lua).
		if stanza.xmpp_oauth_refusal then return true; end
		local name = stanza.name;
		-- Stream-level elements (features, SASL, stream management) carry no sender.
		if name ~= "message" and name ~= "presence" and name ~= "iq" then return true; end
		local from = stanza.attr.from;
		if from == nil then return true; end
		local bare = jid_bare(from):lower();
		if bare == host or bare == component then return true; end
		-- Its own account: IQs only. Messages from it are carbons or archive results, presence is its other devices.
		return name == "iq" and bare == (session.username .. "@" .. host):lower();
	end

	local function guard(session)
		if session.xmpp_oauth_out_guard or access.level(session) == "full" or not session.filter then return; end
		session.xmpp_oauth_out_guard = true;
		filters.add_filter(session, "stanzas/out", function(stanza)
			if type(stanza) ~= "table" or passes(session, stanza) then return stanza; end
			session.log("debug", "Restricted session: not delivering a %s from %s", stanza.name, stanza.attr.from);
			return nil;
		end, 1000);
	end

	-- As soon as the login is known (before Bind2's inline features run), and again at binding.
	module:hook("authentication-success", function(event) guard(event.session); end, -1000);
	module:hook("resource-bind", function(event) guard(event.session); end, 1000);
end

return M;
