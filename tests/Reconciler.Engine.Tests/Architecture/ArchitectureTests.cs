using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Xunit;

namespace Reconciler.Engine.Tests.Architecture;

/// <summary>
/// The dependency rules of docs/architecture.md, read from the compiled assemblies' metadata (what the compiler
/// actually referenced, not what the sources happen to say): the engine knows nothing of the CLI, and the pure core
/// (Schema, Diff) has no randomness, no clock and no machine-wide settings.
/// </summary>
public sealed class ArchitectureTests
{
    private static readonly Assembly Engine = typeof(ReconcileService).Assembly;
    private static readonly Assembly Schema = typeof(Diagnostic).Assembly;
    private static readonly Assembly Diff = typeof(Planner).Assembly;

    [Fact]
    public void The_engine_references_no_command_line_console_or_cli_assembly()
    {
        var referenced = Engine.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        foreach (var forbidden in new[] { "System.CommandLine", "Spectre.Console", "reconciler", "Microsoft.AspNetCore" })
            Assert.DoesNotContain(referenced, name => name == forbidden || name.StartsWith(forbidden + ".", StringComparison.Ordinal));
    }

    [Fact]
    public void The_engine_defines_no_cli_types()
    {
        var cliNamespaces = Engine.GetTypes().Select(t => t.Namespace ?? "")
            .Where(ns => ns is "Reconciler.Cli" or "Reconciler.Views" || ns.StartsWith("Reconciler.Cli.", StringComparison.Ordinal)).Distinct();
        Assert.Empty(cliNamespaces);
        Assert.DoesNotContain(Engine.GetTypes(), t => t.Name is "ExitCodes" or "UserError");
    }

    [Fact]
    public void The_engine_writes_to_no_console()
    {
        var used = ReferencedMembers(Engine.Location);
        Assert.DoesNotContain("System.Console", used);
    }

    [Fact]
    public void The_pure_core_references_only_the_projects_below_it()
    {
        Assert.DoesNotContain(Schema.GetReferencedAssemblies(), a => a.Name!.StartsWith("Reconciler.", StringComparison.Ordinal));
        Assert.Equal(["Reconciler.Schema"], Diff.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("Reconciler.", StringComparison.Ordinal)));
    }

    public static TheoryData<string> PureAssemblies => new() { "Reconciler.Schema", "Reconciler.Diff" };

    [Theory]
    [MemberData(nameof(PureAssemblies))]
    public void The_pure_core_uses_no_randomness_clock_or_machine_wide_setting(string assembly)
    {
        var path = (assembly == "Reconciler.Schema" ? Schema : Diff).Location;
        var used = ReferencedMembers(path);
        string[] forbidden =
        [
            "System.Random", "System.Random..ctor", "System.Random.get_Shared",
            "System.Security.Cryptography.RandomNumberGenerator",
            "System.DateTime.get_Now", "System.DateTime.get_UtcNow", "System.DateTime.get_Today",
            "System.DateTimeOffset.get_Now", "System.DateTimeOffset.get_UtcNow",
            "System.TimeProvider.get_System", "System.Diagnostics.Stopwatch",
            "System.Environment.get_ProcessorCount", "System.Guid.NewGuid",
            "System.Text.RegularExpressions.Regex.set_CacheSize",
            "System.Runtime.GCSettings", "System.GC.TryStartNoGCRegion", "System.Runtime.GCSettings.set_LatencyMode",
        ];
        var found = forbidden.Where(f => used.Contains(f) || used.Any(u => u.StartsWith(f + ".", StringComparison.Ordinal))).ToList();
        Assert.True(found.Count == 0, $"{assembly} uses {string.Join(", ", found)}: the pure core takes these from its caller.");
    }

    /// <summary>The detector itself: it finds a use of DateTime.UtcNow and Environment.ProcessorCount in this
    /// test assembly, so an empty result above means "none used", not "nothing read".</summary>
    [Fact]
    public void The_member_scan_sees_what_an_assembly_uses()
    {
        _ = DateTime.UtcNow.Ticks + Environment.ProcessorCount;
        var used = ReferencedMembers(typeof(ArchitectureTests).Assembly.Location);
        Assert.Contains("System.DateTime.get_UtcNow", used);
        Assert.Contains("System.Environment.get_ProcessorCount", used);
    }

    /// <summary>Every type and member an assembly references from other assemblies, as "Namespace.Type" and
    /// "Namespace.Type.Member".</summary>
    private static HashSet<string> ReferencedMembers(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var names = new HashSet<string>(StringComparer.Ordinal);
        string TypeName(TypeReferenceHandle h)
        {
            var t = md.GetTypeReference(h);
            var ns = md.GetString(t.Namespace);
            var name = md.GetString(t.Name);
            return t.ResolutionScope.Kind == HandleKind.TypeReference
                ? TypeName((TypeReferenceHandle)t.ResolutionScope) + "+" + name
                : ns.Length == 0 ? name : ns + "." + name;
        }
        foreach (var h in md.TypeReferences) names.Add(TypeName(h));
        foreach (var h in md.MemberReferences)
        {
            var m = md.GetMemberReference(h);
            var parent = m.Parent.Kind switch
            {
                HandleKind.TypeReference => TypeName((TypeReferenceHandle)m.Parent),
                HandleKind.TypeSpecification => null,   // generic instantiations: their open type is in TypeReferences
                _ => null,
            };
            if (parent is not null) names.Add(parent + "." + md.GetString(m.Name));
        }
        return names;
    }
}
