using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Health;

/// <summary>Runs the check's command on the host through its session (over SSH for the ssh driver); healthy
/// on exit 0. Interpolated values are shell-quoted.</summary>
public sealed class CommandProbe : IHealthProbe
{
    /// <summary>The command line the check runs on the host (throws <see cref="InterpolationException"/> for an unknown ${...}).</summary>
    public static string CommandOf(HealthCheckSpec check, ProbeContext context) =>
        Interpolation.ExpandCommand(check.Command ?? "", HealthProbes.Variables(context));

    public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        var command = CommandOf(check, context);
        if (string.IsNullOrWhiteSpace(command)) return new ProbeResult(false, "command check: no command");
        var result = await context.Session.RunAsync(command, check.Timeout, ct);
        var output = result.Output.Trim();
        if (output.Length > 300) output = "..." + output[^300..];
        return result.ExitCode == 0
            ? new ProbeResult(true, "command exited 0")
            : result.TimedOut
                ? new ProbeResult(false, $"command {output}")
                : new ProbeResult(false, $"command exited {result.ExitCode}{(output.Length > 0 ? ": " + output : "")}");
    }
}
