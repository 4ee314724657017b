"""Who you play: the saved personas (``roleplay persona``), the active one marked.

Enter plays as the highlighted persona: it becomes the active one (as ``roleplay persona
use``), new chats start with it, and an open chat switches to it from the next message (the
chat screen does that on the pipeline thread). The screen dismisses with the ``Identity``
chosen, or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.backend import Identity, describe_error
from tui.bars import shorten
from tui.keys import PERSONA_KEYS, bindings, palette_commands
from tui.widgets.status_line import StatusLine
from tui.widgets.turn_panel import score_lines

if TYPE_CHECKING:
    from roleplay.personas.model import Persona
    from tui.app import RoleplayApp

NO_PERSONAS = (
    "No personas yet. Add one in a shell:\n\n"
    '  roleplay persona add --name Alex -d "A night-owl student." --big-five '
    "0.85,0.3,0.2,0.8,0.4 --mbti INFP\n\n"
    "then open this screen again (p, or ^G in a chat)."
)


def persona_option(index: int, persona: Persona, *, active: bool, playing: bool) -> Option:
    mark = "● " if active else "  "
    return Option(
        Content.assemble(
            (mark, "$success"),
            (shorten(persona.name, 24), "bold"),
            (f" {persona.mbti}" if persona.mbti else "", "$accent"),
            ("  ·playing" if playing else "", "dim"),
        ),
        id=str(index),
    )


def persona_content(persona: Persona, *, active: bool, playing: bool) -> Content:
    marks = [word for word, on in (("active", active), ("you play it now", playing)) if on]
    header = Content.assemble(
        (persona.name, "bold"),
        (f"  {persona.mbti}" if persona.mbti else "", "bold $accent"),
        (f"  {' · '.join(marks)}" if marks else "", "dim"),
    )
    parts = [header]
    if persona.big_five is not None:
        parts.append(score_lines(persona.big_five.as_dict(), width=16))
    elif persona.mbti is not None:
        parts.append(Content.styled("Big Five: derived from the MBTI type when matching", "dim"))
    else:
        parts.append(
            Content.styled(
                "No Big Five or MBTI: add them (roleplay persona edit NAME --big-five "
                "O,C,E,A,N or --mbti TYPE) for character matches.",
                "dim",
            )
        )
    description = persona.description.strip() or "(no description)"
    return Content("\n").join(parts) + Content("\n\n") + Content(shorten(description, 800))


class PersonaScreen(Screen[Identity | None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(PERSONA_KEYS)
    AUTO_FOCUS = "#personas"

    def __init__(self) -> None:
        super().__init__()
        self.personas: list[Persona] = []
        self.active_name: str | None = None
        self.error: str | None = None

    @property
    def roleplay(self) -> RoleplayApp:
        return cast("RoleplayApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="personas-body"):
            yield OptionList(id="personas")
            yield Static(id="persona-detail", markup=False)
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#personas").border_title = "Personas"
        detail = self.query_one("#persona-detail")
        detail.border_subtitle = "Enter plays as this persona · Esc back"
        self.query_one(StatusLine).set(user=self.roleplay.user_name)
        self.read_personas()

    def read_personas(self) -> None:
        # Imported here: the persona store brings in the card model (pydantic, YAML).
        from roleplay.personas.store import active_persona, list_personas

        try:
            self.personas = list_personas()
            active = active_persona()
        except Exception as error:  # a broken persona file: its one line, the app stays
            self.personas, active = [], None
            self.error = describe_error(error)
            self.notify(self.error, title="Personas", severity="error", markup=False)
        self.active_name = active.name if active is not None else None
        playing = self.roleplay.identity.persona_id
        options = self.query_one("#personas", OptionList)
        options.clear_options()
        options.add_options(
            persona_option(
                index,
                persona,
                active=persona.name == self.active_name,
                playing=persona.name == playing,
            )
            for index, persona in enumerate(self.personas)
        )
        if self.personas:
            names = [persona.name for persona in self.personas]
            start = next((n for n in (playing, self.active_name) if n in names), names[0])
            options.highlighted = names.index(start)
        self._show_highlighted()

    def highlighted_persona(self) -> Persona | None:
        index = self.query_one("#personas", OptionList).highlighted
        if index is None or not 0 <= index < len(self.personas):
            return None
        return self.personas[index]

    def _show_highlighted(self) -> None:
        detail = self.query_one("#persona-detail", Static)
        persona = self.highlighted_persona()
        if persona is None:
            detail.update(Content.styled(self.error or NO_PERSONAS, "dim"))
            detail.border_title = "No persona"
            return
        detail.border_title = persona.name
        detail.update(
            persona_content(
                persona,
                active=persona.name == self.active_name,
                playing=persona.name == self.roleplay.identity.persona_id,
            )
        )

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_highlighted()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        persona = self.highlighted_persona()
        if persona is None:
            self.notify("There is no persona to choose: add one with roleplay persona add.")
            return
        from roleplay.personas.store import use_persona

        try:
            use_persona(persona.name)  # the active one, as `roleplay persona use NAME`
        except Exception as error:  # removed meanwhile, an unwritable folder
            self.notify(describe_error(error), title="Personas", severity="error", markup=False)
            return
        identity = Identity(persona.name, persona.description, persona_id=persona.name)
        self.roleplay.play_as(identity)
        self.dismiss(identity)

    def action_back(self) -> None:
        self.dismiss(None)

    def palette_commands(self) -> list[SystemCommand]:
        return palette_commands(self, PERSONA_KEYS)
