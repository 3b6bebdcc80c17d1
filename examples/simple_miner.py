# examples/simple_miner.py
import asyncio
# ruff: noqa: I001 - seed 000's import block as the seed wrote it, only the package renamed
from gateways.sdk import TOSAIClient, MinerConfig, AutoMiningConfig, TaskType, DifficultyLevel

async def simple_mining_example():
    async with TOSAIClient("http://localhost:8545") as client:
        # 注册矿工
        miner_config = MinerConfig(
            miner_id="python_miner_001",
            skills=["python", "data-analysis", "machine-learning"],
            specializations=[TaskType.DATA_ANALYSIS, TaskType.CODE_ANALYSIS],
            stake_amount=1000000000,  # 1 TOS
            contact_info={"email": "miner@example.com"}
        )

        registration_id = await client.miner.register(miner_config)
        print(f"矿工注册成功: {registration_id}")

        # 获取网络状态
        status = await client.get_network_status()
        print(f"网络状态: 活跃任务 {status.active_tasks}, 活跃矿工 {status.active_miners}")

        # 列出任务
        tasks = await client.list_active_tasks()
        print(f"发现 {len(tasks)} 个活跃任务")

        for task in tasks[:3]:  # 显示前3个任务
            print(f"- {task.title}: {task.reward_amount} TOS, 截止 {task.deadline}")

        # 手动参与一个任务
        if tasks:
            task = tasks[0]
            participation_id = await client.miner.participate_task(task.task_id, 1000000000)
            print(f"参与任务成功: {participation_id}")

async def auto_mining_example():
    """自动挖矿示例"""
    async with TOSAIClient("http://localhost:8545") as client:
        # 配置自动挖矿
        auto_config = AutoMiningConfig(
            preferred_task_types=[TaskType.CODE_ANALYSIS, TaskType.DATA_ANALYSIS],
            preferred_difficulty=DifficultyLevel.INTERMEDIATE,
            min_reward=5000000000,  # 5 TOS
            max_concurrent_tasks=3,
            min_success_probability=0.4,
            min_time_left=3600,  # 1小时
            check_interval=60,   # 每分钟检查
            auto_submit_solutions=False,  # 暂不自动提交
            ai_api_key=None
        )

        # 开始自动挖矿
        mining_task = asyncio.create_task(client.miner.start_auto_mining(auto_config))

        # 运行10分钟后停止
        await asyncio.sleep(600)
        client.miner.stop_auto_mining()
        await mining_task

if __name__ == "__main__":
    # 运行简单示例
    asyncio.run(simple_mining_example())

    # 或运行自动挖矿
    # asyncio.run(auto_mining_example())
