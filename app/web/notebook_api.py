"""GET /api/sessions/{id}/notebook: the session's current step as a Jupyter notebook (app/notebook.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app import notebook
from app.web.api_route import JsonRoute
from app.web.contract import ON_SESSION, answers
from app.web.deps import Store
from app.web.documents import Notebook

router = APIRouter(prefix="/api", route_class=JsonRoute)

MEDIA_TYPE = "application/x-ipynb+json"


class NotebookResponse(JSONResponse):
    """A notebook's JSON text as it is (a JSON response, so OpenAPI shows the notebook's model)."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return content.encode("utf-8") if isinstance(content, str) else super().render(content)


@router.get(
    "/sessions/{session_id}/notebook",
    response_model=Notebook,
    response_class=NotebookResponse,
    tags=["working"],
    responses={
        200: {
            "description": "A Jupyter notebook (nbformat 4) to download",
            "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        },
        **answers(*ON_SESSION, by_reference=True),
    },
)
def get_notebook(session_id: str, store: Store) -> Response:
    """A notebook that rebuilds this session's network and sample with plain numpy and computes the
    current step cell by cell in the article's notation (forward, loss, δ of each layer, gradients,
    update), asserting each number against the one the visualizer shows. After an update it is
    that update; in any other phase, the step in progress as Step would finish it. It imports
    numpy only."""
    current = store.get(session_id)
    stepped = notebook.step_of(current)
    return NotebookResponse(
        notebook.dumps(current),
        headers={"Content-Disposition": f'attachment; filename="backprop-update-{stepped.step}.ipynb"'},
    )
