using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Reconciler.Drivers;
using Reconciler.Drivers.Health;
using Reconciler.Drivers.Local;
using Reconciler.Schema.Model;
using Reconciler.Testing;
using Reconciler.Engine.Tests.Infrastructure;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class HealthProbeTests : IDisposable
{
    private static readonly HttpClient Http = HttpProbe.CreateClient();
    private readonly TempDir _temp = new();
    private readonly IHealthProbe _probes = HostDrivers.Probes(Http);
    private static CancellationToken Ct => TestContext.Timeout;

    public void Dispose() => _temp.Dispose();

    private async Task<ProbeContext> ContextAsync(params (string Key, string Value)[] vars)
    {
        var host = new HostSpec("web-1", "127.0.0.1", 22, "deploy", null, null,
            vars.ToImmutableSortedDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal));
        var session = await new LocalHostDriver(new LocalDriverOptions { LocalRoot = _temp.Path }).OpenAsync(host, Ct);
        return new ProbeContext("api", "1.2.0-abcdef0123", host, session, "/srv/api");
    }

    private static HealthCheckSpec Check(HealthCheckKind kind, string? url = null, int? expect = null, string? address = null, int? port = null,
        string? command = null, int timeoutMs = 2000) =>
        new(kind, url, expect, address, port, command, null, TimeSpan.FromMilliseconds(timeoutMs));

    /// <summary>An HTTP server on 127.0.0.1 answering every request with <paramref name="status"/>, or never when null.</summary>
    private sealed class TestServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        public int Port { get; }
        public List<string> Paths { get; } = [];

        public TestServer(HttpStatusCode? status)
        {
            Port = FreePort();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            _listener.Start();
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext context;
                    try { context = await _listener.GetContextAsync(); }
                    catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                    lock (Paths) Paths.Add(context.Request.Url!.PathAndQuery);
                    if (status is null) continue; // never answers: the probe must time out
                    context.Response.StatusCode = (int)status;
                    context.Response.Close();
                }
            });
        }

        public void Dispose() => _listener.Close();
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Http_is_healthy_on_the_expected_status_with_interpolated_url()
    {
        using var server = new TestServer(HttpStatusCode.OK);
        var context = await ContextAsync(("port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var result = await _probes.ProbeAsync(Check(HealthCheckKind.Http, "http://${host.address}:${host.vars.port}/health?r=${release.id}"), context, Ct);

        Assert.True(result.Healthy, result.Detail);
        Assert.Equal(["/health?r=1.2.0-abcdef0123"], server.Paths);
    }

    [Fact]
    public async Task Http_reports_an_unexpected_status_a_refused_connection_and_a_timeout()
    {
        using var failing = new TestServer(HttpStatusCode.ServiceUnavailable);
        using var silent = new TestServer(null);
        var context = await ContextAsync();

        var status = await _probes.ProbeAsync(Check(HealthCheckKind.Http, $"http://127.0.0.1:{failing.Port}/h"), context, Ct);
        var expected503 = await _probes.ProbeAsync(Check(HealthCheckKind.Http, $"http://127.0.0.1:{failing.Port}/h", expect: 503), context, Ct);
        var refused = await _probes.ProbeAsync(Check(HealthCheckKind.Http, $"http://127.0.0.1:{FreePort()}/h"), context, Ct);
        var timeout = await _probes.ProbeAsync(Check(HealthCheckKind.Http, $"http://127.0.0.1:{silent.Port}/h", timeoutMs: 200), context, Ct);

        Assert.Equal(new ProbeResult(false, $"GET http://127.0.0.1:{failing.Port}/h -> 503, expected 200"), status);
        Assert.True(expected503.Healthy);
        Assert.False(refused.Healthy);
        Assert.EndsWith("connection refused", refused.Detail);
        Assert.Equal(new ProbeResult(false, $"GET http://127.0.0.1:{silent.Port}/h: no response within 200ms"), timeout);
    }

    [Fact]
    public async Task Tcp_checks_the_port_on_the_host_address()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var open = ((IPEndPoint)listener.LocalEndpoint).Port;
        var context = await ContextAsync();

        var up = await _probes.ProbeAsync(Check(HealthCheckKind.Tcp, port: open), context, Ct);
        var down = await _probes.ProbeAsync(Check(HealthCheckKind.Tcp, port: FreePort()), context, Ct);

        Assert.Equal(new ProbeResult(true, $"tcp 127.0.0.1:{open} open"), up);
        Assert.False(down.Healthy);
        Assert.EndsWith("connection refused", down.Detail);
    }

    [Fact]
    public async Task Command_runs_through_the_session_with_quoted_values()
    {
        var context = await ContextAsync(("evil", "$(echo injected)"));

        var ok = await _probes.ProbeAsync(Check(HealthCheckKind.Command, command: "test ${service.name} = api && test ${release.path} = /srv/api/releases/1.2.0-abcdef0123"), context, Ct);
        var failed = await _probes.ProbeAsync(Check(HealthCheckKind.Command, command: "echo ${host.vars.evil}; exit 1"), context, Ct);
        var slow = await _probes.ProbeAsync(Check(HealthCheckKind.Command, command: "sleep 20", timeoutMs: 200), context, Ct);

        Assert.True(ok.Healthy, ok.Detail);
        Assert.Equal(new ProbeResult(false, "command exited 1: $(echo injected)"), failed);
        Assert.Equal(new ProbeResult(false, "command timed out after 0.2s"), slow);
    }

    [Fact]
    public async Task Consul_checks_without_consul_say_how_to_configure_it_and_unknown_variables_throw()
    {
        var context = await ContextAsync();
        var consul = await _probes.ProbeAsync(new HealthCheckSpec(HealthCheckKind.Consul, null, null, null, null, null, "api", TimeSpan.FromSeconds(1)), context, Ct);
        Assert.False(consul.Healthy);
        Assert.Contains("CONSUL_HTTP_ADDR", consul.Detail);

        var e = await Assert.ThrowsAsync<InterpolationException>(() => _probes.ProbeAsync(Check(HealthCheckKind.Http, "http://${host.adress}/"), context, Ct));
        Assert.StartsWith("unknown variable '${host.adress}' in 'http://${host.adress}/'; known: ${deploy.path}, ${host.address}", e.Message);
    }
}
