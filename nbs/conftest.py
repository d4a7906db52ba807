"""pytest hooks for the library notebooks run under nbval (`pytest --nbval-lax nbs/...`).

nbdev_clean strips execution counts from committed notebooks; nbval reads a cell that has outputs but no
count as "never run" and refuses it. The outputs our notebooks keep are real (they were produced by running
the notebook), so give such cells a count and let nbval compare them (only cells marked NBVAL_CHECK_OUTPUT
are compared in lax mode).
"""


def pytest_collection_modifyitems(session, config, items):
    for n, item in enumerate(items, 1):
        cell = getattr(item, 'cell', None)
        if cell is not None and cell.get('outputs') and cell.get('execution_count') is None:
            cell['execution_count'] = n
