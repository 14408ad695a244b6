using System.Collections.Immutable;
using System.Text;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers;

/// <summary>A ${...} reference that cannot be expanded (unknown variable, unterminated). Never retried: the
/// spec must be fixed.</summary>
public sealed class InterpolationException(string message) : ReconcilerException(FailureKind.CommitFault, message);

/// <summary>
/// Expands ${name} in health checks and restart/stop commands. Known names: host.name, host.address,
/// host.vars.NAME, service.name, release.id, release.path, deploy.path, version. Anything else is an error
/// (a typo must not silently become an empty string). "$${" writes a literal "${", so shell parameter
/// expansion like $${HOME} stays available; plain $HOME needs no escape.
/// </summary>
public static class Interpolation
{
    public static readonly ImmutableArray<string> KnownNames =
        ["host.name", "host.address", "host.vars.NAME", "service.name", "release.id", "release.path", "deploy.path", "version"];

    /// <summary>The variables of one host, and of one release of one service when known (else those names are
    /// an error when used).</summary>
    public static ImmutableSortedDictionary<string, string> Variables(HostSpec host, string? service, string? releaseId, string? deployPath,
        string? releasePath = null)
    {
        var v = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        v["host.name"] = host.Name;
        v["host.address"] = host.Address;
        foreach (var (name, value) in host.Vars) v[$"host.vars.{name}"] = value;
        if (service is not null) v["service.name"] = service;
        if (releaseId is not null)
        {
            v["release.id"] = releaseId;
            v["version"] = ReleaseLayout.VersionOf(releaseId);
        }
        if (deployPath is not null)
        {
            v["deploy.path"] = deployPath;
            if (releaseId is not null) v["release.path"] = releasePath ?? $"{deployPath}/{ReleaseLayout.ReleaseLinkTarget(releaseId)}";
        }
        return v.ToImmutable();
    }

    /// <summary>Expands a command: every value is shell-quoted, so it is one literal word whatever it contains.</summary>
    public static string ExpandCommand(string template, IReadOnlyDictionary<string, string> variables) =>
        Expand(template, variables, Shell.Quote);

    /// <summary>Expands a URL, address or other non-shell text: values are inserted as they are.</summary>
    public static string ExpandText(string template, IReadOnlyDictionary<string, string> variables) =>
        Expand(template, variables, v => v);

    public static string Expand(string template, IReadOnlyDictionary<string, string> variables, Func<string, string> encode)
    {
        var sb = new StringBuilder(template.Length + 32);
        var i = 0;
        while (i < template.Length)
        {
            var c = template[i];
            if (c == '$' && i + 2 < template.Length && template[i + 1] == '$' && template[i + 2] == '{')
            {
                sb.Append("${");
                i += 3;
                continue;
            }
            if (c == '$' && i + 1 < template.Length && template[i + 1] == '{')
            {
                var end = template.IndexOf('}', i + 2);
                if (end < 0)
                    throw new InterpolationException($"unterminated '${{' in '{ReleaseLayout.Printable(template)}': close it with '}}', or write '$${{' for a literal '${{'");
                var name = template[(i + 2)..end].Trim();
                if (!variables.TryGetValue(name, out var value))
                    throw new InterpolationException(
                        $"unknown variable '${{{ReleaseLayout.Printable(name)}}}' in '{ReleaseLayout.Printable(template)}'; known: {Known(variables)} " +
                        "(write '$${' for a literal '${')");
                sb.Append(encode(value));
                i = end + 1;
                continue;
            }
            sb.Append(c);
            i++;
        }
        return sb.ToString();
    }

    private static string Known(IReadOnlyDictionary<string, string> variables) =>
        string.Join(", ", variables.Keys.Select(k => "${" + k + "}"));
}
