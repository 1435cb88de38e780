using Zk.Embedded.Wire.Jute;

namespace Zk.Embedded.Wire.Client;

/// <summary>
/// Splits the watches a reconnecting client re-registers into frames of about 128 K characters of paths each, as
/// ZooKeeper's ClientCnxn does (SET_WATCHES_MAX_LENGTH): in one frame, a client with many watches would pass the
/// server's jute.maxbuffer (1 MB by default) and have its connection closed at every reconnect.
/// </summary>
internal static class SetWatchesBatches
{
    /// <summary>ClientCnxn's bound on the characters of paths in one setWatches frame.</summary>
    public const int MaxPathChars = 128 * 1024;

    /// <summary>
    /// The batches in ClientCnxn's order (data, exist, child, persistent, persistent recursive). Like ClientCnxn, a
    /// batch takes paths while it holds fewer than <paramref name="maxPathChars"/> characters, so the last path may
    /// carry it past the bound.
    /// </summary>
    public static List<SetWatches2> Split(SetWatches2 all, int maxPathChars = MaxPathChars)
    {
        IReadOnlyList<string>[] lists =
        [
            all.DataWatches ?? [], all.ExistWatches ?? [], all.ChildWatches ?? [], all.PersistentWatches ?? [], all.PersistentRecursiveWatches ?? [],
        ];
        var batches = new List<SetWatches2>();
        var (list, index) = (0, 0);
        while (list < lists.Length)
        {
            var parts = new List<string>[lists.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                parts[i] = [];
            }

            var chars = 0;
            while (chars < maxPathChars && list < lists.Length)
            {
                if (index == lists[list].Count)
                {
                    (list, index) = (list + 1, 0);
                    continue;
                }

                var path = lists[list][index++];
                parts[list].Add(path);
                chars += path.Length;
            }

            if (parts.Any(p => p.Count > 0))
            {
                batches.Add(new SetWatches2(all.RelativeZxid, parts[0], parts[1], parts[2], parts[3], parts[4]));
            }
        }

        return batches;
    }

    /// <summary>Whether a batch can go as the old setWatches (no persistent watches), which older servers know.</summary>
    public static bool FitsSetWatches(SetWatches2 batch) => batch.PersistentWatches!.Count + batch.PersistentRecursiveWatches!.Count == 0;
}
