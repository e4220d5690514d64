"""Static material for the synthetic data set: UTs, districts, communities and names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class District:
    """A district where Juntos households live, with its INEI ubigeo and language mix."""

    ubigeo: str
    name: str
    ut: str
    # Probabilities of Quechua and Aymara as the household's language.
    qu: float = 0.0
    ay: float = 0.0
    surnames: str = "andes"


_ANDES_QU = 0.45
# UT order matters: the first pay points (and so the first households) fall in PIURA, PUNO,
# CUSCO, ... in turn, which is how a tiny data set still gets every language.
DISTRICTS_BY_UT: dict[str, list[District]] = {
    "PIURA": [
        District("200401", "Chulucanas", "PIURA", surnames="coast"),
        District("200301", "Huancabamba", "PIURA", surnames="coast"),
        District("200201", "Ayabaca", "PIURA", surnames="coast"),
        District("200601", "Sullana", "PIURA", surnames="coast"),
        District("200801", "Sechura", "PIURA", surnames="coast"),
    ],
    "PUNO": [
        District("210401", "Juli", "PUNO", qu=0.15, ay=0.6, surnames="aymara"),
        District("210201", "Azangaro", "PUNO", qu=0.6, surnames="andes"),
        District("210501", "Ilave", "PUNO", qu=0.1, ay=0.65, surnames="aymara"),
        District("210102", "Acora", "PUNO", qu=0.1, ay=0.6, surnames="aymara"),
    ],
    "CUSCO": [
        District("080601", "Sicuani", "CUSCO", qu=_ANDES_QU),
        District("080701", "Santo Tomas", "CUSCO", qu=_ANDES_QU),
        District("081101", "Paucartambo", "CUSCO", qu=_ANDES_QU),
        District("081201", "Urcos", "CUSCO", qu=_ANDES_QU),
    ],
    "CAJAMARCA": [
        District("060401", "Chota", "CAJAMARCA", surnames="coast"),
        District("060601", "Cutervo", "CAJAMARCA", surnames="coast"),
        District("060701", "Bambamarca", "CAJAMARCA", surnames="coast"),
        District("060201", "Cajabamba", "CAJAMARCA", surnames="coast"),
        District("060801", "Jaen", "CAJAMARCA", surnames="coast"),
    ],
    "AYACUCHO": [
        District("050401", "Huanta", "AYACUCHO", qu=_ANDES_QU),
        District("050501", "San Miguel", "AYACUCHO", qu=_ANDES_QU),
        District("050201", "Cangallo", "AYACUCHO", qu=_ANDES_QU),
        District("050601", "Puquio", "AYACUCHO", qu=_ANDES_QU),
    ],
    "ANCASH": [
        District("020601", "Carhuaz", "ANCASH", qu=0.1),
        District("021001", "Huari", "ANCASH", qu=0.1),
        District("021601", "Pomabamba", "ANCASH", qu=0.1),
    ],
    "HUANCAVELICA": [
        District("090201", "Acobamba", "HUANCAVELICA", qu=_ANDES_QU),
        District("090301", "Lircay", "HUANCAVELICA", qu=_ANDES_QU),
        District("090701", "Pampas", "HUANCAVELICA", qu=_ANDES_QU),
    ],
    "LORETO": [
        District("160301", "Nauta", "LORETO", surnames="amazon"),
        District("160501", "Requena", "LORETO", surnames="amazon"),
        District("160201", "Yurimaguas", "LORETO", surnames="amazon"),
    ],
    "APURIMAC": [
        District("030201", "Andahuaylas", "APURIMAC", qu=_ANDES_QU),
        District("030501", "Tambobamba", "APURIMAC", qu=_ANDES_QU),
        District("030601", "Chincheros", "APURIMAC", qu=_ANDES_QU),
    ],
    "AMAZONAS": [
        District("010701", "Bagua Grande", "AMAZONAS", surnames="amazon"),
        District("010401", "Nieva", "AMAZONAS", surnames="amazon"),
        District("010501", "Lamud", "AMAZONAS", surnames="coast"),
    ],
    "HUANUCO": [
        District("100601", "Llata", "HUANUCO", qu=0.2),
        District("100801", "Panao", "HUANUCO", qu=0.2),
    ],
}


def interleaved_districts() -> list[District]:
    """Districts taking one UT at a time, so consecutive pay points change UT."""
    lists = list(DISTRICTS_BY_UT.values())
    out: list[District] = []
    for i in range(max(len(items) for items in lists)):
        out.extend(items[i] for items in lists if i < len(items))
    return out


COMMUNITIES = [
    "Ccochaccasa", "Huayllay Grande", "Paucarbamba", "Chacapampa", "Yanaorcco", "Pomacocha",
    "Huaychao", "Ccollpa", "Sachapata", "Antaccocha", "Quispillaccta", "Uchuraccay",
    "Pampacancha", "Chucasuyo", "Ccota", "Camicachi", "Santa Rosa de Yanayacu",
    "San Jose de Saramuro", "Nuevo Progreso", "Miraflores", "Tres Unidos", "Llacuash",
    "Vilcabamba", "Cochapampa", "Totora", "Ocobamba", "Tambillo", "Chinchaypujio",
]

TITULAR_NAMES = [
    "Rosa", "Maria", "Juana", "Carmen", "Flor", "Yolanda", "Elena", "Luz", "Marleni", "Nelida",
    "Yeni", "Sonia", "Gladys", "Lucia", "Maribel", "Delia", "Norma", "Marisol", "Ruth",
    "Elizabeth", "Isabel", "Hilda", "Teresa", "Victoria", "Vilma", "Zenaida", "Felicitas",
    "Eufemia", "Justina", "Saturnina", "Nilda", "Edith", "Roxana", "Yesenia", "Karina",
]
SECOND_NAMES = ["", "", "", "Del Pilar", "Isabel", "Elena", "Luz", "Maria", "Rosa", "Victoria"]
CHILD_NAMES = [
    "Luis", "Jose", "Miguel", "Jhon", "Brayan", "Kevin", "Jhonatan", "Alex", "Cristian", "Edwin",
    "Yoel", "Angel", "Dayana", "Yanet", "Milagros", "Sheyla", "Nayeli", "Ana", "Kiara",
    "Jhoselyn", "Thiago", "Mateo", "Liam", "Valeria", "Camila", "Fiorella", "Rosmery", "Wilber",
    "Ronal", "Yaneth", "Abigail", "Dylan",
]
SURNAMES = {
    "coast": ["Garcia", "Flores", "Lopez", "Rojas", "Torres", "Ramos", "Castillo", "Vasquez",
              "Sanchez", "Diaz", "Chavez", "Cruz", "Gutierrez", "Mendoza", "Huaman", "Silva",
              "Alberca", "Chunga", "Yovera", "Cienfuegos", "Tantalean", "Guevara"],
    "andes": ["Quispe", "Huaman", "Mamani", "Condori", "Ccori", "Yupanqui", "Cusi", "Huillca",
              "Ccahuana", "Taipe", "Huanca", "Ccopa", "Tito", "Puma", "Sullca", "Layme",
              "Ancco", "Paucar", "Huayta", "Inga", "Flores", "Gutierrez", "Ramos", "Cardenas"],
    "aymara": ["Mamani", "Condori", "Choque", "Apaza", "Ticona", "Chambi", "Limachi",
               "Coaquira", "Machaca", "Chuquimia", "Nina", "Quispe", "Cruz", "Flores"],
    "amazon": ["Shapiama", "Tapullima", "Sangama", "Pinedo", "Ahuanari", "Tananta", "Panduro",
               "Ruiz", "Del Aguila", "Vasquez", "Tuesta", "Garcia", "Wampagkit", "Jempekit"],
}
STREETS = ["Jr. Lima", "Av. Grau", "Jr. Bolognesi", "Av. Los Incas", "Jr. San Martin",
           "Plaza de Armas", "Jr. Ayacucho", "Av. Tupac Amaru"]
