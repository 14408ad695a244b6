using Reconciler.Consul;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Health;

/// <summary>Healthy when the service has at least one instance and every check of every instance is passing
/// (GET /v1/health/service/:service): the node's checks too, so a dead agent (serfHealth critical) or a node in
/// maintenance (_node_maintenance) fails the gate although the service's own checks still read passing.
/// Warning counts as not passing: a gate should not pass on a degraded service.</summary>
public sealed class ConsulHealthProbe(ConsulClient consul) : IHealthProbe
{
    public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        var service = Interpolation.ExpandText(check.ConsulService ?? "${service.name}", HealthProbes.Variables(context));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(check.Timeout);
        IReadOnlyList<ServiceHealth> instances;
        try
        {
            instances = await consul.ServiceHealthAsync(service, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ProbeResult(false, $"consul {service}: no answer from {consul.Address} within {check.Timeout.TotalMilliseconds:0}ms");
        }
        catch (ConsulException e)
        {
            return new ProbeResult(false, $"consul {service}: {e.Message}");
        }
        if (instances.Count == 0)
            return new ProbeResult(false, $"consul {service}: no instance registered (is the service registered with the agent?)");
        var checks = instances.SelectMany(i => i.Checks).ToList();
        var failing = checks.Where(c => c.Status != "passing").ToList();
        return failing.Count == 0
            ? new ProbeResult(true, $"consul {service}: {instances.Count} instances, {checks.Count} checks passing")
            : new ProbeResult(false, $"consul {service}: {failing.Count} of {checks.Count} checks not passing: " +
                                     string.Join("; ", failing.Take(5).Select(c => $"{c.Node}/{c.Name} {c.Status}{(c.ServiceId == "" ? " (node check)" : "")}")));
    }
}
