"""The deployment material in infra/ keeps the promises of infra/README.md and RUNBOOK.md.

Reads the Kubernetes manifests as rendered by ``kubectl kustomize`` (the base's files as written
when kubectl is missing), the Dockerfile, the compose file and the nginx configuration. No
network, no cluster, no Docker engine: infra/validate adds the schema and security scans.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from donate.cli import cmd_migrate, cmd_serve, cmd_worker, parser
from donate.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
K8S = INFRA / "k8s"
KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))
SETTINGS = {f"DONATE_{name.upper()}" for name in Settings.model_fields}
Doc = dict[str, Any]


def render(directory: Path) -> list[Doc]:
    if shutil.which("kubectl"):
        out = subprocess.run(
            ["kubectl", "kustomize", str(directory)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        return [d for d in yaml.safe_load_all(out) if d]
    if directory != K8S / "base":
        pytest.skip("kubectl is needed to render an overlay")
    listed = yaml.safe_load((directory / "kustomization.yaml").read_text())["resources"]
    return [d for r in listed for d in yaml.safe_load_all((directory / r).read_text()) if d]


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    return render(request.param)


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[Doc]) -> Iterator[Doc]:
    yield from (d for d in docs if d["kind"] in ("Deployment", "Job"))


def container(workload: Doc) -> Doc:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def selects(selector: Doc, workload: Doc) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return bool(selector["matchLabels"]) and selector["matchLabels"].items() <= labels.items()


def mib(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_every_kustomization_is_found() -> None:
    assert {K8S / "base", K8S / "overlays" / "production"} <= set(KUSTOMIZATIONS)


def test_deployments_and_the_migration_job_exist(docs: list[Doc]) -> None:
    assert set(of_kind(docs, "Deployment")) == {"donate-web", "donate-worker"}
    assert set(of_kind(docs, "Job")) == {"donate-migrate"}
    assert all(d["metadata"].get("namespace") == "donate" for d in docs if d["kind"] != "Namespace")


def test_every_container_is_locked_down(docs: list[Doc]) -> None:
    accounts = of_kind(docs, "ServiceAccount")
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        c = container(workload)
        sc = c["securityContext"]
        name = workload["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] >= 10000, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert sc["runAsNonRoot"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["serviceAccountName"] in accounts, name
        assert accounts[pod["serviceAccountName"]]["automountServiceAccountToken"] is False
        # A read-only root needs a writable /tmp (tempfile: payout reports, XLSX exports).
        tmp = {m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/tmp"}
        assert {v["name"] for v in pod["volumes"] if "emptyDir" in v} >= tmp == {"tmp"}, name
        for key in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][key]), (name, key)
        image, _, tag = c["image"].rpartition(":")
        assert image and tag and tag != "latest" and "/" not in tag, c["image"]


def test_web_is_probed_and_fits_the_memory_target(docs: list[Doc]) -> None:
    web = container(of_kind(docs, "Deployment")["donate-web"])
    port = {p["name"]: p["containerPort"] for p in web["ports"]}["http"]
    assert web["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert web["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # /readyz may take 1.5 s for PostgreSQL then 1.5 s for Redis before it answers 503.
    assert web["readinessProbe"]["timeoutSeconds"] > 3
    args = parser().parse_args(web["args"][1:])
    assert web["args"][0] == "donate" and args.func is cmd_serve and args.port == port
    # Target: < 150 MB RSS per web process.
    assert (
        150
        <= mib(web["resources"]["requests"]["memory"])
        <= mib(web["resources"]["limits"]["memory"])
        <= 256
    )


def test_the_worker_runs_the_worker(docs: list[Doc]) -> None:
    worker = container(of_kind(docs, "Deployment")["donate-worker"])
    assert worker["args"][0] == "donate"
    assert parser().parse_args(worker["args"][1:]).func is cmd_worker
    # Its only port is the metrics server's, at the port the worker is told to use.
    env = {e["name"]: e["value"] for e in worker.get("env", [])}
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert ports == {"metrics": int(env["DONATE_WORKER_METRICS_PORT"])}


def test_the_migration_job_runs_donate_migrate(docs: list[Doc]) -> None:
    job = of_kind(docs, "Job")["donate-migrate"]
    args = container(job)["args"]
    assert args == ["donate", "migrate"] and parser().parse_args(args[1:]).func is cmd_migrate
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_both_deployments_have_an_autoscaler_and_a_disruption_budget(docs: list[Doc]) -> None:
    hpas, pdbs = of_kind(docs, "HorizontalPodAutoscaler"), of_kind(docs, "PodDisruptionBudget")
    for name, deployment in of_kind(docs, "Deployment").items():
        scalers = [h for h in hpas.values() if h["spec"]["scaleTargetRef"]["name"] == name]
        assert len(scalers) == 1, name
        assert scalers[0]["apiVersion"] == "autoscaling/v2"
        assert scalers[0]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= scalers[0]["spec"]["minReplicas"] < scalers[0]["spec"]["maxReplicas"]
        # The autoscaler owns the count: a `replicas` here would reset it at every apply.
        assert "replicas" not in deployment["spec"], name
        assert sum(selects(p["spec"]["selector"], deployment) for p in pdbs.values()) == 1, name


def test_the_service_reaches_the_web_pods(docs: list[Doc]) -> None:
    service = of_kind(docs, "Service")["donate-web"]
    web = of_kind(docs, "Deployment")["donate-web"]
    assert selects({"matchLabels": service["spec"]["selector"]}, web)
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_settings_names_are_real_and_the_secret_example_has_what_production_needs(
    docs: list[Doc],
) -> None:
    secret = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())
    config = of_kind(docs, "ConfigMap")["donate-config"]
    for workload in workloads(docs):
        refs = {k: r[k]["name"] for r in container(workload)["envFrom"] for k in r}
        assert refs == {"configMapRef": "donate-config", "secretRef": secret["metadata"]["name"]}
    assert set(config["data"]) <= SETTINGS
    for workload in workloads(docs):
        assert {e["name"] for e in container(workload).get("env", [])} <= SETTINGS
    # Every value parses, as the pods will see them (placeholders for the secrets).
    values = {**config["data"], **secret["stringData"]}
    Settings(_env_file=None, **{k.removeprefix("DONATE_").lower(): v for k, v in values.items()})
    assert set(secret["stringData"]) <= SETTINGS
    assert not set(config["data"]) & set(secret["stringData"])
    required = {"DONATE_DATABASE_URL", "DONATE_REDIS_URL", "DONATE_SECRET_KEY"}
    assert required | {"DONATE_ENCRYPTION_KEY", "DONATE_STRIPE_WEBHOOK_SECRET"} <= set(
        secret["stringData"]
    )
    assert config["data"]["DONATE_ENVIRONMENT"] == "production"


def test_the_secret_example_is_never_applied() -> None:
    for directory in KUSTOMIZATIONS:
        listed = yaml.safe_load((directory / "kustomization.yaml").read_text())
        assert "secret.example.yaml" not in listed.get("resources", [])


def dockerfile_stages() -> list[list[str]]:
    text = re.sub(r"\\\n", " ", (INFRA / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_and_runs_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert final[0].split()[1].startswith("python:3.11-slim")
    users = [ln.split()[1] for ln in final if ln.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert int(users[-1].split(":")[0]) >= 10000  # numeric: runAsNonRoot can verify it
    final_text = "\n".join(final)
    assert "build-essential" not in final_text and "gcc" not in final_text
    assert "COPY --from=builder /opt/venv /opt/venv" in final_text
    assert re.search(r"^HEALTHCHECK .*/healthz", final_text, re.M)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in final_text
    # The wheel carries no migrations: the builder must install them where the code looks.
    assert "MIGRATIONS_DIR" in "\n".join(stages[0]) and "load_migrations" in "\n".join(stages[0])


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    root = INFRA.parent
    allowed = {
        ln[1:].rstrip("/")
        for ln in (root / ".dockerignore").read_text().splitlines()
        if ln.startswith("!")
    }
    copied = {
        src
        for stage in dockerfile_stages()
        for ln in stage
        if ln.startswith("COPY ") and "--from=" not in ln
        for src in ln.split()[1:-1]
    }
    assert copied == allowed == {"pyproject.toml", "README.md", "donate", "migrations"}
    assert all((root / p).exists() for p in copied)


@pytest.fixture(scope="module")
def compose() -> Doc:
    loaded: Doc = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def test_compose_runs_two_apps_and_two_workers_after_the_migration(compose: Doc) -> None:
    services = compose["services"]
    commands = {
        name: parser().parse_args(s["command"][1:]).func
        for name, s in services.items()
        if s.get("command", [""])[0] == "donate"
    }
    assert commands == {"migrate": cmd_migrate, "app": cmd_serve, "worker": cmd_worker}
    for name in ("app", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["read_only"] is True
    assert services["migrate"]["restart"] == "no"
    assert services["postgres"]["image"].split(":")[1].startswith("15")
    assert services["redis"]["image"].split(":")[1].startswith("7")
    assert "ports" not in services["app"] and "ports" not in services["worker"]
    # The app believes X-Forwarded-For from the proxy's fixed address, and from nothing else.
    proxy_ip = services["proxy"]["networks"]["backend"]["ipv4_address"]
    assert services["app"]["environment"]["DONATE_TRUSTED_PROXIES"] == f"{proxy_ip}/32"


def test_the_proxy_spreads_over_the_app_replicas_and_forwards_client_headers(
    compose: Doc,
) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    conf = (INFRA / "nginx.conf").read_text()
    upstream = re.search(r"upstream (\w+) \{(.*?)\}", conf, re.S)
    assert upstream and re.search(r"server app:8000 resolve\b", upstream.group(2))
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-ID"):
        assert re.search(rf"proxy_set_header {header} \$\w+;", conf), header
