"""A running API picks up a promotion (and a rollback) with 0 failed requests: `housing serve` on a loopback port,
8 keep-alive clients sending single rows, while `housing promote --reload-api` moves the champion through the gate and
makes the API load it, and `housing rollback --reload-api` puts the previous one back."""
import threading
import time

from api_support import Server, hammer, requests_cycle

ADMIN = 'promotion-admin-token'


def test_promote_and_rollback_reach_a_loaded_api_with_no_failed_request(store, cli, tmp_path, sample_rows):
    uri = store(champion='1')
    server = Server({'tracking_uri': uri}, tmp_path/'log.db', env={'HOUSING_ADMIN_TOKEN': ADMIN})
    try:
        server.wait_ready()
        events = {}
        api = {'HOUSING_API_URL': f'http://127.0.0.1:{server.port}', 'HOUSING_ADMIN_TOKEN': ADMIN}
        stop = threading.Event()
        def operator():
            time.sleep(1.0)
            try:
                events['promote'] = cli(uri, 'promote', '--reload-api', env=api)
                time.sleep(1.0)
                events['rollback'] = cli(uri, 'rollback', '--reload-api', env=api)
                time.sleep(1.0)
            finally: stop.set()
        t = threading.Thread(target=operator); t.start()
        answers, deadline = [], time.monotonic() + 300
        while not stop.is_set() and time.monotonic() < deadline:  # load until the operator is done (CLI start-up takes seconds here)
            answers += hammer(server.port, [requests_cycle(server.port, '/predict', sample_rows[k:k + 50], 100_000) for k in range(8)], seconds=2)
        t.join(300)
    finally: server.stop()
    promoted, rolled_back = events['promote'], events['rollback']
    assert promoted.returncode == 0 and 'API reloaded: serving version 2' in promoted.stdout, promoted.stdout + promoted.stderr
    assert rolled_back.returncode == 0 and 'API reloaded: serving version 1' in rolled_back.stdout, rolled_back.stdout + rolled_back.stderr
    failed = [a for a in answers if a[0] != 200]
    assert len(answers) > 200 and failed == [], failed[:5]
    served = [b['model_version'] for _, b in answers]
    assert set(served) == {'1', '2'}
    print(f'{len(answers)} requests under load across promote+reload and rollback+reload: 0 failed; '
          f'{served.count("2")} answered by the promoted version')
