using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Health;

/// <summary>The one IHealthProbe the executor gets: dispatches each check to the probe of its kind. A check's
/// ${...} values come from the host and the release being checked (see <see cref="Interpolation"/>).</summary>
public sealed class HealthProbes(HttpProbe http, TcpProbe tcp, CommandProbe command, IHealthProbe? consul) : IHealthProbe
{
    public Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct) => check.Kind switch
    {
        HealthCheckKind.Http => http.ProbeAsync(check, context, ct),
        HealthCheckKind.Tcp => tcp.ProbeAsync(check, context, ct),
        HealthCheckKind.Command => command.ProbeAsync(check, context, ct),
        HealthCheckKind.Consul => consul is not null
            ? consul.ProbeAsync(check, context, ct)
            : Task.FromResult(new ProbeResult(false,
                "consul health check: no Consul address configured (set CONSUL_HTTP_ADDR to the agent, e.g. http://127.0.0.1:8500)")),
        _ => Task.FromResult(new ProbeResult(false, $"unknown check kind {check.Kind}")),
    };

    internal static IReadOnlyDictionary<string, string> Variables(ProbeContext context) =>
        Interpolation.Variables(context.Host, context.Service, context.ReleaseId, context.DeployPath);
}
