"""The demo's gestores: a fixed staff list over the demo UTs, on phones no household has.

Their phones are set apart by demo_people (`People.staff_phones`): the top of the household
phone bijection, which a padron of any realistic size never reaches, so no gestor's phone is a
household's; each ends in three digits no other phone the demo prints ends in (a masked log
line shows those three only). The first gestor, in PUNO where the README's titular lives, is the one the
demo prints.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mijuntos_dev.demo_people import People


@dataclass(frozen=True)
class DemoGestor:
    """One row of the demo's gestores.csv."""

    gestor_id: str
    nombres: str
    apellidos: str
    unidad_territorial: str
    tambo: str
    estado: str
    phone: str = ""  # E.164, given by `demo_gestores`

    def row(self, spelled: str) -> list[str]:
        """The gestores.csv row, the phone spelled as the programme might."""
        return [self.gestor_id, self.nombres, self.apellidos, spelled, self.unidad_territorial,
                self.tambo, self.estado]

    def line(self) -> str:
        """The demo's printed line: who to be to try the assisted menu."""
        return (f"gestor (assisted mode): {self.phone}, {self.gestor_id}, "
                f"{self.tambo or 'no Tambo'}, {self.unidad_territorial}")


STAFF = (
    DemoGestor("G000101", "MARTHA", "CHOQUE APAZA", "PUNO", "Tambo Camicachi", "activo"),
    DemoGestor("G000102", "JOSE LUIS", "YOVERA CHUNGA", "PIURA", "Tambo Pampa Elera", "activo"),
    DemoGestor("G000103", "NELIDA", "HUILLCA CCORI", "CUSCO", "Tambo Pampacancha", "activo"),
    DemoGestor("G000104", "WILMER", "TANTALEAN GUEVARA", "CAJAMARCA", "Oficina Juntos Chota",
               "activo"),
    DemoGestor("G000105", "EDITH", "TAIPE HUANCA", "AYACUCHO", "Tambo Uchuraccay", "inactivo"),
    DemoGestor("G000106", "RONAL", "PUMA SULLCA", "APURIMAC", "", "activo"),
)


def demo_gestores(people: People) -> list[DemoGestor]:
    """STAFF with their phones (People.staff_phones): the first is the one the demo prints."""
    return [replace(gestor, phone=f"+51{digits}")
            for gestor, digits in zip(STAFF, people.staff_phones, strict=True)]


def write_gestores(writer: Any, gestores: list[DemoGestor]) -> int:
    """Write the gestores.csv rows, phones in the spellings exports use."""
    for n, gestor in enumerate(gestores):
        digits = gestor.phone.removeprefix("+51")
        spelled = [digits, f"+51 {digits[:3]} {digits[3:6]} {digits[6:]}", "51" + digits][n % 3]
        writer.writerow(gestor.row(spelled))
    return len(gestores)


__all__ = ["DemoGestor", "STAFF", "demo_gestores", "write_gestores"]
