"""Calls the served stack through a client generated from its OpenAPI document by
openapi-python-client (tests/openapi.rs generates it into a temporary folder and runs this):
the typed models of the bodies and answers, an admin loading the grid directory, an inspector's
report carried, and a refusal parsed as the document's Error.

Arguments: the folder holding the generated package `baoan_client`, the server's base URL, an
admin's and an inspector's token, and the grid directory (JSON).
"""

import json
import sys

sys.path.insert(0, sys.argv[1])
base_url, admin, inspector, directory = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

from baoan_client import AuthenticatedClient  # noqa: E402
from baoan_client.api.grid import grid_load_directory, grid_submit_report  # noqa: E402
from baoan_client.models import Error, LoadDirectoryBody, Outcomes, SubmitReportBody  # noqa: E402

as_admin = AuthenticatedClient(base_url=base_url, token=admin)
body = LoadDirectoryBody.from_dict({"directory": json.loads(directory)})
answer = grid_load_directory.sync_detailed(client=as_admin, body=body)
assert answer.status_code == 200, (answer.status_code, answer.content)
assert isinstance(answer.parsed, Outcomes), answer.parsed
assert [o.type_ for o in answer.parsed.outcomes] == ["directory_loaded"], answer.parsed

as_inspector = AuthenticatedClient(base_url=base_url, token=inspector)
report = SubmitReportBody(
    grid=0,
    item_type=1,
    observed_at=0,
    report_ref=7,
    resolved_on_spot=False,
    source="inspector",
)
answer = grid_submit_report.sync_detailed(client=as_inspector, body=report)
assert answer.status_code == 200, (answer.status_code, answer.content)
kinds = [o.type_ for o in answer.parsed.outcomes]
assert "report_accepted" in kinds, kinds

# An inspector may not load the directory: 403, parsed as the document's Error.
answer = grid_load_directory.sync_detailed(client=as_inspector, body=body)
assert answer.status_code == 403, (answer.status_code, answer.content)
assert isinstance(answer.parsed, Error) and answer.parsed.error == "forbidden", answer.parsed

print("generated client: directory_loaded;", ", ".join(kinds), "; forbidden parsed as Error")
