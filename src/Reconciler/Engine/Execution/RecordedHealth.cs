using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>
/// The health checks a live service was applied with, read back from its field snapshot (<see cref="Diff.Planning.ServiceFields"/>
/// writes each check as one line: "http URL expect 200 timeout 2s", "tcp ADDR:PORT timeout 2s", "command CMD timeout 5s",
/// "consul NAME timeout 2s", and health.interval, .consecutivePasses, .minHealthy, .deadline). A rollback gates the
/// restored release with these, the checks of the commit that release came from, not with the failed commit's checks
/// (which the old release may not pass). Like <see cref="DeploySettings.FromFields"/>, the one place these display fields
/// are read back; anything it does not recognise gives null and the caller says so.
/// </summary>
internal static partial class RecordedHealth
{
    public static HealthSpec? FromFields(IReadOnlyDictionary<string, string> fields)
    {
        if (!Int(fields, "health.consecutivePasses", out var passes) || !Duration(fields, "health.interval", out var interval)
            || !Duration(fields, "health.minHealthy", out var minHealthy) || !Duration(fields, "health.deadline", out var deadline))
            return null;
        var checks = ImmutableArray.CreateBuilder<HealthCheckSpec>();
        for (var i = 0; fields.TryGetValue($"health.checks[{i}]", out var line); i++)
        {
            if (Check(line) is not { } check) return null;
            checks.Add(check);
        }
        return new HealthSpec(checks.ToImmutable(), interval, passes, minHealthy, deadline);
    }

    private static HealthCheckSpec? Check(string line)
    {
        var at = line.LastIndexOf(" timeout ", StringComparison.Ordinal);
        if (at < 0 || ParseDuration(line[(at + " timeout ".Length)..]) is not { } timeout) return null;
        var body = line[..at];
        var space = body.IndexOf(' ');
        if (space < 0) return null;
        var (kind, rest) = (body[..space], body[(space + 1)..]);
        switch (kind)
        {
            case "http":
                var expect = rest.LastIndexOf(" expect ", StringComparison.Ordinal);
                if (expect < 0 || !int.TryParse(rest[(expect + " expect ".Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out var status)) return null;
                return new HealthCheckSpec(HealthCheckKind.Http, rest[..expect], status, null, null, null, null, timeout);
            case "tcp":
                var colon = rest.LastIndexOf(':');
                if (colon < 0 || !int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port)) return null;
                var address = rest[..colon];
                return new HealthCheckSpec(HealthCheckKind.Tcp, null, null, address == "${host.address}" ? null : address, port, null, null, timeout);
            case "command":
                return new HealthCheckSpec(HealthCheckKind.Command, null, null, null, null, rest, null, timeout);
            case "consul":
                return new HealthCheckSpec(HealthCheckKind.Consul, null, null, null, null, null, rest, timeout);
            default:
                return null;
        }
    }

    private static bool Int(IReadOnlyDictionary<string, string> fields, string path, out int value)
    {
        value = 0;
        return fields.TryGetValue(path, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool Duration(IReadOnlyDictionary<string, string> fields, string path, out TimeSpan value)
    {
        value = default;
        if (!fields.TryGetValue(path, out var text) || ParseDuration(text) is not { } parsed) return false;
        value = parsed;
        return true;
    }

    private static TimeSpan? ParseDuration(string text)
    {
        var m = DurationPattern().Match(text);
        if (!m.Success || !long.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return null;
        return m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromHours(n),
        };
    }

    [GeneratedRegex("^([0-9]{1,12})(ms|s|m|h)$", RegexOptions.CultureInvariant)]
    private static partial Regex DurationPattern();
}
