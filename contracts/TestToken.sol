// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title An ERC-20 for the dev chain and the chain tests (GTA, GTB, TUSD).
/// @notice The deployer owns it and may mint more, so tests can fund any account they need
///         without a faucet. Never deploy this anywhere real: minting is unbounded.
contract TestToken is ERC20, Ownable {
    // Stored rather than hard-coded: the stablecoin uses 6 decimals like USDC, which is exactly
    // the case the DEX price code must get right.
    uint8 private immutable _decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 initialSupply)
        ERC20(name_, symbol_)
        Ownable(msg.sender)
    {
        _decimals = decimals_;
        _mint(msg.sender, initialSupply);
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Creates `amount` base units for `to`.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
