"""playbooks/phase3_rotate.yml through the real ansible-playbook, against the session's real
PostgreSQL and OpenBao, on test_ansible_rotate's fleet (web1 the canary, web2 the rest; one
database user shared by both, one of each host's own), migrated by the CLI.

In order: a wave whose agent restart fails (there is no systemd here) is rolled back by the
play's rescue: its files are as before, the leaked password stays refused, no role is left. A
wave whose stored password was changed behind the migration's back stops at its vault step
before anything moves. Then the canary wave and the rest go to static rotation (old passwords
refused, the templates render passwords that log in, through a real agent), everything goes
dynamic, and two rollbacks bring every file back to what phase 2 wrote, byte for byte. No value
appears in any run's output."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ansible_run import REPO
from assertions import assert_no_canary
from servers import BaoServer, PostgresServer
from test_ansible_rotate import ENV, INI, RotationFleet, plant

from migrator.state.journal import read_rotations

PLAYBOOK = (REPO / "playbooks" / "phase3_rotate.yml").read_text()


def url_login(rendered: str) -> tuple[str, str]:
    found = re.search(r"DATABASE_URL=postgresql://([^:]+):([^@]+)@", rendered)
    assert found, "the .env renders a connection URL"
    return found.group(1), found.group(2)


def ini_login(rendered: str) -> tuple[str, str]:
    user = re.search(r"^user = (.+)$", rendered, re.M)
    password = re.search(r"^password = (.+)$", rendered, re.M)
    assert user and password, "the INI file renders a user and a password"
    return user.group(1), password.group(1)


@dataclass
class Rotation:
    """The fleet through every run of the playbook, and what each left behind."""

    fleet: RotationFleet
    migrated: dict[Path, bytes]  # every file of the fleet as phase 2 left it
    procs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    files: dict[str, dict[Path, bytes]] = field(default_factory=dict)  # after each run
    logins: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)  # rendered, after each run
    seen: dict[str, str] = field(default_factory=dict)  # every password rendered (canaries too)
    checks: dict[str, dict[str, bool]] = field(default_factory=dict)  # facts checked after each run
    live: dict[str, dict[str, bool]] = field(default_factory=dict)  # each rendered login logs in, right after

    def run(self, name: str, *args: str, restart: bool = False) -> None:
        fleet = self.fleet
        self.procs[name] = fleet.play(name, PLAYBOOK, *args, vaultshift_restart_agents=restart)
        self.files[name] = fleet.files()
        logins = {"web1 env": url_login(fleet.render("web1", ENV)), "web2 env": url_login(fleet.render("web2", ENV)),
                  "web1 ini": ini_login(fleet.render("web1", INI)), "web2 ini": ini_login(fleet.render("web2", INI))}
        self.logins[name] = logins
        self.live[name] = {where: fleet.logs_in(*login) for where, login in logins.items()}
        for where, (_, password) in logins.items():
            self.seen[f"{name} {where}"] = password


def static_roles(fleet: RotationFleet) -> list[str]:
    listed = fleet.bao.client().list(f"{fleet.mount}/static-roles") or {}
    return list((listed.get("data") or {}).get("keys") or [])


def enable(wave: str) -> tuple[str, ...]:
    return ("-e", "vaultshift_rotation=enable", "-e", f"vaultshift_wave={wave}")


@pytest.fixture(scope="module")
def rotation(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, bao: BaoServer) -> Rotation:
    fleet = plant(tmp_path_factory.mktemp("phase3"), postgres, bao)
    r = Rotation(fleet, fleet.files())
    users = fleet.users

    # 1. the canary's agent cannot be restarted (no systemd here): the rescue rolls the wave back
    r.run("restart fails", *enable("canary"), restart=True)
    r.checks["restart fails"] = {
        "old refused": not fleet.logs_in(*users["web1"]),
        "no role": not static_roles(fleet),
        "kv": {rec.mode for rec in read_rotations(fleet.base / ".vaultshift").values()} == {"kv"}}

    # 2. web2's stored password no longer logs in: the rest wave stops at its vault step
    web2_user, web2_password = users["web2"]
    with postgres.connect() as admin:
        admin.execute(f"ALTER ROLE {web2_user} PASSWORD 'changed-elsewhere-{fleet.tag}'")
    r.run("stored password changed", *enable("rest"))
    r.checks["stored password changed"] = {"shared untouched": fleet.logs_in(*users["shared"]),
                                           "no role": not static_roles(fleet)}
    with postgres.connect() as admin:
        admin.execute(f"ALTER ROLE {web2_user} PASSWORD '{web2_password}'")

    # 3. the canary wave, then the rest, to static rotation
    before_canary = r.logins["stored password changed"]["web1 env"]
    r.run("canary", *enable("canary"))
    r.checks["canary"] = {"old refused": not fleet.logs_in(*before_canary),
                          "shared untouched": fleet.logs_in(*users["shared"]),
                          "web2 untouched": fleet.logs_in(*users["web2"])}
    r.run("rest", *enable("rest"))
    r.checks["rest"] = {"shared old refused": not fleet.logs_in(*users["shared"]),
                        "web2 old refused": not fleet.logs_in(*users["web2"])}

    # 4. dynamic credentials everywhere, then back to static, then back to KV
    r.run("dynamic", "-e", "vaultshift_rotation=dynamic", "-e", "vaultshift_wave=all")
    dynamic_users = [user for user, _ in r.logins["dynamic"].values()]
    r.run("back to static", "-e", "vaultshift_rotation=rollback", "-e", "vaultshift_wave=all")
    r.checks["back to static"] = {"dynamic users gone": not any(fleet.role_exists(u) for u in dynamic_users)}
    r.run("back to kv", "-e", "vaultshift_rotation=rollback", "-e", "vaultshift_wave=all")
    r.checks["back to kv"] = {
        "no role": not static_roles(fleet),
        "kv": {rec.mode for rec in read_rotations(fleet.base / ".vaultshift").values()} == {"kv"},
        "leaked refused": not any(fleet.logs_in(*users[name]) for name in ("shared", "web1", "web2"))}
    return r


def recap_failed(proc: subprocess.CompletedProcess[str]) -> bool:
    recap = proc.stdout[proc.stdout.rindex("PLAY RECAP"):]
    return proc.returncode != 0 and re.search(r"failed=[1-9]", recap) is not None


def test_a_wave_whose_agent_restart_fails_is_rolled_back(rotation: Rotation):
    proc = rotation.procs["restart fails"]
    assert recap_failed(proc), proc.stdout[-3000:]
    assert "Phase 3 enable of wave canary failed: Restart the agents whose templates changed: " in proc.stdout
    assert "(on web1). Rolled back the 1 secret(s) the run had moved; the files are as before." in proc.stdout
    assert "Restart these agents by hand: vaultshift-agent-" in proc.stdout
    assert "changed: [web1]" in proc.stdout[proc.stdout.index("TASK [Put the references back]"):]
    # the unit of the switched .env's agent, and only it, was to be restarted
    assert re.search(r"failed: \[web1\] \(item=vaultshift-agent-\S+-web1-srv-app-\.env\.service\)", proc.stdout)
    assert "app.ini.service" not in proc.stdout
    assert rotation.files["restart fails"] == rotation.migrated
    assert rotation.checks["restart fails"] == {"old refused": True, "no role": True, "kv": True}
    # KV holds the password the static role had set: the unchanged template renders one that logs in
    assert rotation.logins["restart fails"]["web1 env"] != rotation.fleet.users["web1"]
    assert all(rotation.live["restart fails"].values()), rotation.live["restart fails"]


def test_a_stored_password_changed_elsewhere_stops_the_wave_before_anything_moves(rotation: Rotation):
    proc = rotation.procs["stored password changed"]
    assert recap_failed(proc), proc.stdout[-3000:]
    web2_user = rotation.fleet.users["web2"][0]
    assert re.search(r"Phase 3 enable of wave rest failed: Stop if the vault side failed: wave rest: enable "
                     rf"\(vault step\): apps/\S+: the stored password does not log in as {web2_user} on pg-\w+: fix "
                     r"the stored value first \(on web1, web2\)\. Nothing to roll back: the run moved no secret\.",
                     proc.stdout), proc.stdout[-3000:]
    assert "TASK [Switch the references on the wave's hosts]" not in proc.stdout
    assert rotation.files["stored password changed"] == rotation.migrated
    assert rotation.checks["stored password changed"] == {"shared untouched": True, "no role": True}


def test_the_canary_then_the_rest_go_to_static_rotation(rotation: Rotation):
    fleet, migrated = rotation.fleet, rotation.migrated
    canary, rest = rotation.files["canary"], rotation.files["rest"]
    assert rotation.procs["canary"].returncode == 0, rotation.procs["canary"].stdout[-3000:]
    assert rotation.procs["rest"].returncode == 0, rotation.procs["rest"].stdout[-3000:]
    web1_env = fleet.template("web1", ENV)
    assert b"static-creds/" in canary[web1_env] and b"static-creds/" not in migrated[web1_env]
    # The canary wave holds web1's own user only: the shared one waits for web2's wave.
    assert {p for p in canary if canary[p] != migrated[p]} == {web1_env}
    assert rotation.checks["canary"] == {"old refused": True, "shared untouched": True, "web2 untouched": True}
    assert rotation.logins["canary"]["web1 env"][0] == fleet.users["web1"][0]
    assert rotation.checks["rest"] == {"shared old refused": True, "web2 old refused": True}
    for host in ("web1", "web2"):
        assert b"static-creds/" in rest[fleet.template(host, INI)]
    assert b"static-creds/" in rest[fleet.template("web2", ENV)]
    logins = rotation.logins["rest"]
    shared_user = fleet.users["shared"][0]
    assert logins["web1 ini"] == logins["web2 ini"] and logins["web1 ini"][0] == shared_user
    assert logins["web2 env"][0] == fleet.users["web2"][0]
    # the rest wave's agents to restart: both INI files' and web2's .env's, not web1's .env's
    out = rotation.procs["rest"].stdout
    restart = out[out.index("TASK [Restart the agents whose templates changed]"):out.index("TASK [Finish the wave]")]
    units = sorted(re.findall(r"skipping: \[(web\d)\] => \(item=vaultshift-agent-\S+?-(srv-app-\.env|etc-app-app"
                              r"\.ini)\.service\)", restart))
    assert units == [("web1", "etc-app-app.ini"), ("web2", "etc-app-app.ini"), ("web2", "srv-app-.env")]


def test_dynamic_credentials_then_two_rollbacks_back_to_what_phase_2_wrote(rotation: Rotation):
    fleet = rotation.fleet
    for name in ("dynamic", "back to static", "back to kv"):
        assert rotation.procs[name].returncode == 0, rotation.procs[name].stdout[-3000:]
    dynamic = rotation.logins["dynamic"]
    for where, (user, _) in dynamic.items():
        static_user = rotation.logins["rest"][where][0]
        assert user != static_user and user.startswith("v-"), where
    for host in ("web1", "web2"):
        assert b"/creds/" in rotation.files["dynamic"][fleet.template(host, INI)]
    assert rotation.checks["back to static"] == {"dynamic users gone": True}
    assert {w: u for w, (u, _) in rotation.logins["back to static"].items()} == \
        {w: u for w, (u, _) in rotation.logins["rest"].items()}
    assert rotation.files["back to kv"] == rotation.migrated
    assert rotation.checks["back to kv"] == {"no role": True, "kv": True, "leaked refused": True}


def test_after_every_run_each_template_renders_a_login_that_works(rotation: Rotation):
    for name, live in rotation.live.items():
        # (but web2's own, whose password was changed behind the migration's back for that run)
        expected = {where: not (name == "stored password changed" and where == "web2 env") for where in live}
        assert live == expected, name


def test_no_value_in_any_output_journal_or_temporary_file(rotation: Rotation):
    fleet = rotation.fleet
    canaries = {**fleet.values, **rotation.seen}
    for name, proc in rotation.procs.items():
        assert_no_canary(proc.stdout + proc.stderr, canaries, f"the output of run {name!r}")
    # The controller's side: journals (its own and each host's), Ansible's HOME and temporary
    # directories, the plan; the fleet's files hold references only since phase 2.
    checked = 0
    for path in sorted(fleet.base.rglob("*")):
        if path.is_file() and not path.is_symlink():
            assert_no_canary(path.read_bytes().decode("latin-1"), canaries, str(path))
            checked += 1
    assert (fleet.base / ".vaultshift" / "journal.sqlite").is_file()
    assert (fleet.base / ".vaultshift" / "hosts" / "web2" / "journal.sqlite").is_file()
    assert checked >= 20
