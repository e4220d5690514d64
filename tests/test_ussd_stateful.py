"""A Hypothesis state machine drives random USSD sessions against the real app and Redis:
random inputs, resent hops, drops and resumes, concurrent sessions of one phone."""

from __future__ import annotations

import itertools

import pytest
import redis as redis_lib
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from dialogs.gsm import is_gsm7
from models import Database
from tests.support import JUANA, ROSA, ROSA_PHONE, STRANGER_PHONE

PHONES = [ROSA_PHONE, STRANGER_PHONE, "+51900000002"]
INPUTS = st.one_of(
    st.sampled_from(["0", "00", "1", "2", "3", "4", "5", "98", "9", "", "x"]),
    st.sampled_from([JUANA["dni"], JUANA["dob"], "01011999", "02021999", ROSA["dni"], ROSA["dob"]]),
    st.text(alphabet="0123456789", min_size=1, max_size=9),
)
PRIVATE = ("Hola", "Pago 2026", "Monto", "Agencia", "salud", "Corresponsabilidades", "Avisos por",
           "Motivo", "cobrado")
_ids = itertools.count(1)


class Session:
    def __init__(self, phone: str) -> None:
        self.id = f"st{next(_ids)}"
        self.phone = phone
        self.inputs: list[str] = []
        self.last = ""
        self.verified = False
        self.asked_juana_dob = False


def make_machine(app: Flask, redis: redis_lib.Redis) -> type[RuleBasedStateMachine]:
    client = app.test_client()

    class UssdWalk(RuleBasedStateMachine):
        sessions = Bundle("sessions")

        def __init__(self) -> None:
            super().__init__()
            redis.flushdb()  # each walk starts with no sessions, locks or resume offers
            self.wrong_juana = 0  # wrong dates typed for Juana's DNI, across sessions and phones
            self.resumable_verified: dict[str, bool] = {}

        def hop(self, session: Session) -> str:
            response = client.post("/ussd", data={
                "sessionId": session.id, "phoneNumber": session.phone, "serviceCode": "*1880#",
                "networkCode": "71610", "text": "*".join(session.inputs)})
            assert response.status_code == 200
            body = response.get_data(as_text=True)
            assert body[:4] in ("CON ", "END "), body
            assert len(body) - 4 <= 182 and is_gsm7(body[4:]), body
            return body

        def check(self, session: Session, body: str, typed: str | None, resumed: bool) -> None:
            if resumed:
                # "Continue where you left off" restores the phone's last session, verified or not.
                session.verified = self.resumable_verified.get(session.phone, False)
            if "Hola " in body:
                session.verified = True
            if not session.verified:
                for word in PRIVATE:
                    assert word not in body, (session.phone, session.inputs, body)
            if session.asked_juana_dob and typed in ("01011999", "02021999"):
                assert "Hola Juana" not in body, "a wrong date of birth was accepted"
                self.wrong_juana += 1
            if self.wrong_juana >= 3 and session.phone != ROSA_PHONE and session.asked_juana_dob:
                assert "Hola Juana" not in body, "a locked DNI was let through"
            session.asked_juana_dob = "fecha de nacimiento" in body and (
                typed == JUANA["dni"] or session.asked_juana_dob)
            session.last = body
            # What a new session of this phone would be offered to resume (mirrors the screens
            # that are not resumable: the DNI prompt, the offer itself, confirmations, END).
            not_resumable = body.startswith("END ") or any(
                mark in body for mark in ("Ingrese el DNI", "Tiene una consulta", "Listo. "))
            if not_resumable:
                if "Tiene una consulta" not in body:
                    self.resumable_verified[session.phone] = False
            else:
                self.resumable_verified[session.phone] = session.verified

        @rule(target=sessions, phone=st.sampled_from(PHONES))
        def dial(self, phone: str) -> Session:
            session = Session(phone)
            self.check(session, self.hop(session), None, resumed=False)
            return session

        @rule(session=sessions, value=INPUTS)
        def send(self, session: Session, value: str) -> None:
            if session.last.startswith("END "):
                return
            offered = session.last.startswith("CON Tiene una consulta")
            session.inputs.append(value)
            body = self.hop(session)
            self.check(session, body, value, resumed=offered and value == "1")

        @rule(session=sessions)
        def resend(self, session: Session) -> None:
            assert self.hop(session) == session.last  # same reply, no new state

        @rule(session=consumes(sessions))
        def drop(self, session: Session) -> None:
            """The caller walks out of coverage: the session is never heard from again."""

        @invariant()
        def lockout_counter_is_sane(self) -> None:
            assert self.wrong_juana >= 0

    return UssdWalk


def test_random_sessions_keep_the_invariants(app: Flask, seeded: Database, db: Database,
                                             redis: redis_lib.Redis) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("random walks run once, on SQLite")
    run_state_machine_as_test(
        make_machine(app, redis),
        settings=settings(max_examples=100, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow]),
    )
