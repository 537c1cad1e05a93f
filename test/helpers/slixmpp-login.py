# One login with Debian's python3-slixmpp, pinned to one SASL mechanism, as a
# chat client that remembers its mechanism would do. Prints one JSON line:
# {"ok": true|false, "mechanism": ..., "error": ...}. Loopback, no TLS.
# Usage: slixmpp-login.py PORT JID MECHANISM [CA_FILE]  (password on standard input)
# With CA_FILE: STARTTLS first, trusting that CA, at TLS 1.2 (tls-unique channel
# binding, what slixmpp's -PLUS mechanisms use, does not exist in TLS 1.3).
import asyncio, json, logging, ssl, sys
import slixmpp

port, jid, mechanism = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ca_file = sys.argv[4] if len(sys.argv) > 4 else None
password = sys.stdin.read()
logging.basicConfig(level=logging.CRITICAL)

# sasl_mech pins the mechanism: if it fails, no other is tried.
client = slixmpp.ClientXMPP(jid, password, sasl_mech=mechanism,
                            plugin_config={'feature_mechanisms': {'unencrypted_plain': True, 'unencrypted_scram': True}})
done = asyncio.get_event_loop().create_future()

def finish(result):
    if not done.done():
        done.set_result(result)

if ca_file:
    client.ssl_context = ssl.create_default_context(cafile=ca_file)
    client.ssl_context.check_hostname = False
    client.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2

client.add_event_handler('session_start', lambda _: finish({'ok': True, 'mechanism': client['feature_mechanisms'].mech.name}))
client.add_event_handler('failed_all_auth', lambda _: finish({'ok': False, 'mechanism': mechanism, 'error': 'not-authorized'}))
client.add_event_handler('failed_auth', lambda e: finish({'ok': False, 'mechanism': mechanism, 'error': str(getattr(e, 'get', lambda *_: e)('condition', '')) or 'failed'}))
client.add_event_handler('connection_failed', lambda e: finish({'ok': False, 'mechanism': mechanism, 'error': f'connection failed: {e}'}))
client.add_event_handler('disconnected', lambda _: finish({'ok': False, 'mechanism': mechanism, 'error': 'disconnected before a session'}))

async def main():
    client.connect(('127.0.0.1', port), disable_starttls=not ca_file, force_starttls=bool(ca_file))
    try:
        result = await asyncio.wait_for(done, 20)
    except asyncio.TimeoutError:
        result = {'ok': False, 'mechanism': mechanism, 'error': 'timeout'}
    print(json.dumps(result), flush=True)
    client.disconnect(wait=0.5)
    await asyncio.sleep(0.6)

asyncio.get_event_loop().run_until_complete(main())
