"""The Kafka clients the integration tests drive are installed, so no client test can be
skipped for want of one (scripts/install-deps installs them)."""
import pathlib
import shutil
import subprocess

JS_DIR = pathlib.Path(__file__).parent / "js"


def test_kcat_is_installed():
    assert shutil.which("kcat"), "kcat missing: run scripts/install-deps"
    proc = subprocess.run(["kcat", "-V"], capture_output=True, text=True, timeout=10)
    assert "librdkafka" in proc.stdout + proc.stderr


def test_python_clients_import():
    import confluent_kafka
    import kafka
    assert confluent_kafka.libversion()[0].startswith("2.")
    assert kafka.__version__


def test_kafkajs_loads():
    proc = subprocess.run(["node", "-e", "console.log(require('kafkajs').logLevel.INFO)"],
                          capture_output=True, text=True, timeout=30, cwd=JS_DIR)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "4"


def test_kafkajs_codecs_load():
    """The pure-JavaScript snappy, lz4 and zstd codecs roundtrip.js plugs into KafkaJS."""
    script = ("require('kafkajs-snappy'); require('lz4js');"
              "require('zstd-codec').ZstdCodec.run(z => console.log(typeof z.Streaming))")
    proc = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30,
                          cwd=JS_DIR)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "function"
