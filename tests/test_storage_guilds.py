from storage import Repository
from storage.repository import GuildSettings


async def test_guild_settings_round_trip(repo: Repository) -> None:
    assert await repo.all_guild_settings() == []
    await repo.add_project_channel(1, 10)
    await repo.add_project_channel(1, 10)
    await repo.add_project_channel(1, 11)
    await repo.set_guild_role(2, 99)
    await repo.set_guild_role(1, None)
    assert await repo.all_guild_settings() == [
        GuildSettings(guild_id=1, project_channel_ids=frozenset({10, 11}), role_id=None),
        GuildSettings(guild_id=2, project_channel_ids=frozenset(), role_id=99),
    ]
    await repo.set_guild_role(2, 100)
    settings = {g.guild_id: g for g in await repo.all_guild_settings()}
    assert settings[2].role_id == 100
