using System.Reflection;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.Testing;

namespace Reconciler.Schema.Tests;

public class ModelCodecTests
{
    /// <summary>
    /// The parse cache stores definitions with a hand-written codec (ModelCodec). If this golden changes, a model
    /// record gained, lost or changed a field: update ModelCodec's Write and Read for it, then rewrite this golden
    /// (UPDATE_GOLDEN=1).
    /// </summary>
    [Fact]
    public void The_model_records_have_the_shapes_the_cache_codec_was_written_for()
    {
        var types = typeof(RepoModel).Assembly.GetExportedTypes()
            .Where(t => t.Namespace == typeof(RepoModel).Namespace && !t.IsEnum)
            .Except([typeof(RepoModel), typeof(DesiredState), typeof(DesiredToggle), typeof(Diagnostic)])   // built after the cache, never stored
            .Where(t => t.GetMethod("<Clone>$") is not null || (t.IsValueType && t.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is not null))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        var lines = types.Select(t =>
        {
            var ctor = t.GetConstructors(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
                .Where(c => c.GetParameters() is not [{ } only] || only.ParameterType != t)   // not the record's copy constructor
                .OrderByDescending(c => c.GetParameters().Length).First();
            return $"{t.FullName!.Replace('+', '.')}({string.Join(", ", ctor.GetParameters().Select(p => $"{Describe(p.ParameterType)} {p.Name}"))})";
        });
        Golden.Match(string.Join("\n", lines) + "\n", "model-shapes.txt");
    }

    private static string Describe(Type t) =>
        t.IsGenericType
            ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(", ", t.GetGenericArguments().Select(Describe))}>"
            : t.FullName!.Replace('+', '.');
}
